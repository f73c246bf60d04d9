package apiv1

// SMTP connection security.
const (
	SMTPStartTLS = "starttls" // plain connection upgraded with STARTTLS (RFC 3207), usually port 587
	SMTPTLS      = "tls"      // implicit TLS from the first byte (RFC 8314), usually port 465
	SMTPNone     = "none"     // no TLS at all: test servers only; authentication and mail carrying a secret are refused
)

// MailSettings are the SMTP settings as the API shows them: the password
// is never returned, only whether one is set.
type MailSettings struct {
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	Security    string `json:"security"` // starttls, tls or none
	Username    string `json:"username,omitempty"`
	PasswordSet bool   `json:"password_set"`
	From        string `json:"from"`
	// CA is extra trusted CA certificates (PEM) for an internal mail
	// relay whose certificate no public CA signed; the system's roots are
	// trusted as well.
	CA string `json:"ca,omitempty"`
}

// MailSettingsInput replaces the SMTP settings. An empty Password keeps
// the stored one; ClearPassword removes it.
type MailSettingsInput struct {
	Enabled       bool   `json:"enabled"`
	Host          string `json:"host"`
	Port          int    `json:"port"`
	Security      string `json:"security"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	ClearPassword bool   `json:"clear_password,omitempty"`
	// CA replaces the extra trusted CA certificates (PEM; empty: none).
	CA   string `json:"ca,omitempty"`
	From string `json:"from"`
}

// MailTemplate is the text/template source of one notification kind.
type MailTemplate struct {
	Kind        string   `json:"kind"`
	Description string   `json:"description"`
	Subject     string   `json:"subject"`
	Text        string   `json:"text"`
	HTML        string   `json:"html,omitempty"` // optional HTML alternative (html/template)
	Default     bool     `json:"default"`        // true while the built-in text is in force
	Fields      []string `json:"fields"`         // what the template may use, e.g. ".User.Name"
}

// MailTemplateInput replaces one kind's template.
type MailTemplateInput struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html,omitempty"`
}

// TestMailInput names the address of a test e-mail.
type TestMailInput struct {
	To string `json:"to"`
}
