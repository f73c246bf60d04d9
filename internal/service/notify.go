package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Notifier delivers the e-mails card workflows send (guide: "If the
// administrator configured user email notifications, you will receive an
// email…"). Implementations must queue durably before returning (a
// message is never lost) and must not log message bodies: a random PIN
// is one. Every method gets the addresses to write to; an empty list is
// never passed.
type Notifier interface {
	// RandomPIN sends the random user PIN of a newly issued card to the
	// recipients the policy names (guide: "email it to yourself or your
	// manager").
	RandomPIN(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, pin string) error
	// QueueRandomPIN queues the same message inside tx, the caller's
	// transaction (it is queued if and only if tx commits), appending no
	// audit event of its own: the caller's event names the message ID
	// returned. EUnavailable when notifications are off or the relay
	// has no TLS. Call Wake once tx committed.
	QueueRandomPIN(tx lanyard.Tx, to []string, user *lanyard.User, card *lanyard.Card, pin string) (mailID int64, err error)
	// Wake makes the delivery worker look for queued messages now.
	Wake()
	// CardIssue tells the card's owner that its issue is pending,
	// approved (Continue card issue can write the certificates) or
	// rejected (revoke and clear the card, then issue it again).
	CardIssue(ctx context.Context, to []string, ev cardops.CardIssueEvent) error
	// Document tells document officers that a signed document was
	// uploaded (with the document attached), or its owner that it was
	// approved or rejected.
	Document(ctx context.Context, to []string, ev DocumentEvent) error
	// AirCardCode sends an AirCard connection code to the card's owner
	// (guide: "enter the code sent by the administrator").
	AirCardCode(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, code string) error
}

// Notifications is the administration of e-mail notifications
// (internal/notify implements it; the web layer serves it to
// administrators): SMTP settings, the editable templates, a test e-mail
// and the outbox. Role checks happen at the edge; p attributes the audit
// event of each change.
type Notifications interface {
	MailSettings(ctx context.Context) (*MailSettings, error)
	PutMailSettings(ctx context.Context, p *Principal, in MailSettingsInput) (*MailSettings, error)
	MailTemplates(ctx context.Context) ([]*MailTemplate, error)
	// PutMailTemplate replaces the template of one kind after parsing and
	// trying it on sample data; an empty input restores the default.
	PutMailTemplate(ctx context.Context, p *Principal, kind string, in MailTemplateInput) (*MailTemplate, error)
	// SendTestMail queues the test e-mail to one address.
	SendTestMail(ctx context.Context, p *Principal, to string) (*lanyard.MailMessage, error)
	ListMail(ctx context.Context, f lanyard.MailFilter) ([]*lanyard.MailMessage, error)
	// RetryMail queues a failed message again with fresh attempts.
	RetryMail(ctx context.Context, p *Principal, id int64) (*lanyard.MailMessage, error)
}

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
