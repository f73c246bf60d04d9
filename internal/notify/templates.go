package notify

import (
	"bytes"
	"context"
	"encoding/json"
	htmltemplate "html/template"
	"slices"
	"strings"
	"text/template"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Notification kinds: one template each.
const (
	KindCardIssuePending   = "card_issue_pending"
	KindCardIssueApproved  = "card_issue_approved"
	KindCardIssueRejected  = "card_issue_rejected"
	KindCardDisabled       = "card_disabled"
	KindCardPINReset       = "card_pin_reset"
	KindCardOfflineUnblock = "card_offline_unblock"
	KindCardPINBlocked     = "card_pin_blocked"
	KindCardEnabled        = "card_enabled"
	KindCardRevoked        = "card_revoked"
	KindCardReplaced       = "card_replaced"
	// Update card contents (cardops, update*.go).
	KindCardUpdated         = "card_updated"
	KindCardUpdatePending   = "card_update_pending"
	KindCardUpdateCancelled = "card_update_cancelled"
	KindCardUpdateApproved  = "card_update_approved"
	KindCardUpdateRejected  = "card_update_rejected"
	// Account notices (identity.AccountEvent).
	KindRSSSignIn              = "rss_signin"
	KindSecretAnswersLocked    = "secret_answers_locked"
	KindSecretAnswersLockedOps = "secret_answers_locked_operators"
	KindDocumentUploaded       = "document_uploaded"
	KindDocumentReceived       = "document_received"
	KindDocumentApproved       = "document_approved"
	KindDocumentRejected       = "document_rejected"
	KindRandomPIN              = "random_pin"
	KindAirCardCode            = "aircard_code"
	KindTest                   = "test"
)

// Data is what a template sees. Every kind gets the same fields; those a
// kind does not use are empty.
type Data struct {
	Kind     string
	User     UserData // the person the notification is about
	Card     CardData
	Template string // the certificate template concerned
	Comment  string // the approver's comment; how a document received by other means came; card_replaced: the replacing card
	DocKind  string // "certificate request form" or "certificate form"
	FileName string // the uploaded file
	By       string // who acted: the login that recorded a document's receipt, or changed a card's state
	Reason   string // why a card was revoked: lost, compromised, damaged, superseded or withdrawn
	PIN      string // the random user PIN (random_pin only; never in subjects)
	Code     string // an AirCard connection code (aircard_code only; never in subjects)
	Address  string // the client address an account notice is about
	URL      string // Lanyard's address
}

// UserData names a user.
type UserData struct{ Login, Name, Email string }

// CardData names a card.
type CardData struct {
	ID                     int64
	Serial, CardType, Name string
}

// fields lists what Data offers, for the template editor.
var fields = []string{".User.Name", ".User.Login", ".User.Email", ".Card.Serial", ".Card.CardType", ".Card.Name", ".Card.ID",
	".Template", ".Comment", ".DocKind", ".FileName", ".By", ".Reason", ".PIN", ".Code", ".Address", ".URL", ".Kind"}

// sample is the data templates are tried on before they are saved.
var sample = Data{
	Kind: KindTest, User: UserData{Login: "alice", Name: "Alice Example", Email: "alice@example.com"},
	Card: CardData{ID: 7, Serial: "12345678", CardType: "piv", Name: "Alice's card"}, Template: "smartcard-logon",
	Comment: "signature missing", DocKind: "certificate form", FileName: "form.pdf", By: "olga", Reason: "lost", PIN: "12345678", Code: "ABCDE-FGHIJ", Address: "192.0.2.10", URL: "https://lanyard.example.com",
}

// kindInfo is a kind's description and built-in template.
type kindInfo struct {
	kind, description string
	def               apiv1.MailTemplateInput
}

const signature = "\n-- \nLanyard card management\n{{.URL}}\n"

var kinds = []kindInfo{
	{KindCardIssuePending, "Card issue pending: to the card's owner when the issue waits for approvals", apiv1.MailTemplateInput{
		Subject: "Card issue pending: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the issue of your card {{.Card.Serial}} ({{.Card.CardType}}) is pending{{if .Template}} for the certificate {{.Template}}{{end}}.
It continues once the required approvals are in; you will get an e-mail then.
Until then Self-Service shows the card as "Card issue pending".
` + signature}},
	{KindCardIssueApproved, "Card issue approved: to the card's owner when every approval is in", apiv1.MailTemplateInput{
		Subject: "Card issue approved: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the issue of your card {{.Card.Serial}} ({{.Card.CardType}}) is approved{{if .Template}} (certificate {{.Template}}){{end}}.
Connect the card, open Self-Service and choose "Continue card issue" in the card menu to write the certificates.
` + signature}},
	{KindCardIssueRejected, "Card issue rejected: to the card's owner when the CA rejects a request", apiv1.MailTemplateInput{
		Subject: "Card issue rejected: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the issue of your card {{.Card.Serial}} ({{.Card.CardType}}) was rejected{{if .Template}} (certificate {{.Template}}){{end}}.
{{if .Comment}}Comment: {{.Comment}}
{{end}}
In Self-Service, choose "Revoke and clear card" in the card menu, then issue the card again.
` + signature}},
	{KindCardDisabled, "Card disabled: to the card's owner (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card disabled: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

your card {{.Card.Serial}} ({{.Card.CardType}}) was disabled{{if .By}} by {{.By}}{{end}}. It cannot be used until it is enabled again;
certificates whose template says so are on hold meanwhile.
If you did not ask for this, tell your help desk.
` + signature}},
	{KindCardEnabled, "Card enabled: to the card's owner (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card enabled: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

your card {{.Card.Serial}} ({{.Card.CardType}}) was enabled{{if .By}} by {{.By}}{{end}} and can be used again.
If you did not ask for this, tell your help desk.
` + signature}},
	{KindCardRevoked, "Card revoked: to the card's owner (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card revoked: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

your card {{.Card.Serial}} ({{.Card.CardType}}) was revoked{{if .By}} by {{.By}}{{end}}{{if .Reason}} as {{.Reason}}{{end}}: it and its certificates can no longer be used.
If you did not ask for this, tell your help desk.
` + signature}},
	{KindCardReplaced, "Card replaced: to the card's owner (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card replaced: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

your card {{.Card.Serial}} ({{.Card.CardType}}){{if .Reason}}, reported {{.Reason}},{{end}} was replaced{{if .By}} by {{.By}}{{end}}: {{.Comment}}.
If you did not ask for this, tell your help desk.
` + signature}},
	{KindCardUpdated, "Card updated: to the card's owner when Update card contents renewed, added or removed certificates (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card updated: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the certificates on your card {{.Card.Serial}} ({{.Card.CardType}}) were updated{{if .By}} by {{.By}}{{end}}: certificates due were renewed,
and certificates your policy added or removed were written to or deleted from the card. The old certificates are revoked.
` + signature}},
	{KindCardUpdatePending, "Card update pending: to the card's owner when an update waits for approvals (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card update pending: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the update of your card {{.Card.Serial}} ({{.Card.CardType}}) waits for approvals. Your card keeps working with its current certificates.
Once the approvals are in, connect the card and choose "Continue card update" in the card menu.
` + signature}},
	{KindCardUpdateApproved, "Card update approved: to the card's owner when every approval of a pending update is in", apiv1.MailTemplateInput{
		Subject: "Card update approved: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the update of your card {{.Card.Serial}} ({{.Card.CardType}}) is approved{{if .Template}} (certificate {{.Template}}){{end}}.
Connect the card, open Self-Service and choose "Continue card update" in the card menu to write the new certificates.
` + signature}},
	{KindCardUpdateRejected, "Card update rejected: to the card's owner when the CA rejects a request of a pending update", apiv1.MailTemplateInput{
		Subject: "Card update rejected: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the update of your card {{.Card.Serial}} ({{.Card.CardType}}) was rejected{{if .Template}} (certificate {{.Template}}){{end}}.
{{if .Comment}}Comment: {{.Comment}}
{{end}}
Your card keeps its current certificates. Choose "Continue card update" in the card menu to close the update, then update the card again.
` + signature}},
	{KindCardUpdateCancelled, "Card update cancelled: to the card's owner when an administrator cancels a pending update (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Card update cancelled: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the pending update of your card {{.Card.Serial}} ({{.Card.CardType}}) was cancelled{{if .By}} by {{.By}}{{end}}{{if .Comment}}: {{.Comment}}{{end}}.
Your card keeps its current certificates.
` + signature}},
	{KindCardPINReset, "Card PIN reset: to the card's owner (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "PIN reset: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

the PIN of your card {{.Card.Serial}} ({{.Card.CardType}}) was reset{{if .By}} by {{.By}}{{end}}.
If you did not ask for this, tell your help desk at once: someone may hold your card.
` + signature}},
	{KindCardOfflineUnblock, "Card unblocked offline: to the card's owner when a response to its challenge was given (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Offline unblock: card {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

a response that unblocks the PIN of your card {{.Card.Serial}} ({{.Card.CardType}}) was given{{if .By}} to {{.By}}{{end}}.
If you did not ask for this, tell your help desk at once: someone may hold your card.
` + signature}},
	{KindCardPINBlocked, "Card PIN blocked: to the operators and to the card's owner (their manager in copy when the policy says so), once per block, when an agent sees the card's PIN blocked", apiv1.MailTemplateInput{
		Subject: "PIN blocked: card {{.Card.Serial}}",
		Text: `Hello,

the PIN of the card {{.Card.Serial}} ({{.Card.CardType}}){{if .User.Name}} of {{.User.Name}}{{end}} is blocked{{if .By}}: it was seen so at {{.By}}{{end}}.
Its owner can unblock it in Self-Service (Reset PIN, with the card connected) or ask the help desk.
` + signature}},
	{KindDocumentUploaded, "Document uploaded: to document officers, with the document attached", apiv1.MailTemplateInput{
		Subject: "Document to review: {{.DocKind}} of {{.User.Name}}",
		Text: `Hello,

{{.User.Name}} ({{.User.Login}}) uploaded a signed {{.DocKind}}{{if .Template}} for the certificate {{.Template}}{{end}}{{if .Card.Serial}}, card {{.Card.Serial}}{{end}}.
The document is attached{{if .FileName}} ({{.FileName}}){{end}}. Approve or reject it in the management console.
` + signature}},
	{KindDocumentReceived, "Document received: to document officers when an operator records a document sent by other means", apiv1.MailTemplateInput{
		Subject: "Document to review: {{.DocKind}} of {{.User.Name}} (received by other means)",
		Text: `Hello,

a signed {{.DocKind}} of {{.User.Name}} ({{.User.Login}}){{if .Template}} for the certificate {{.Template}}{{end}}{{if .Card.Serial}}, card {{.Card.Serial}}{{end}} was received by other means{{if .By}}, as {{.By}} recorded{{end}}:
{{.Comment}}
Check the document you received, then approve or reject it in the management console.
` + signature}},
	{KindDocumentApproved, "Document approved: to the document's owner", apiv1.MailTemplateInput{
		Subject: "Document approved: your {{.DocKind}}",
		Text: `Hello {{.User.Name}},

your {{.DocKind}}{{if .Template}} for the certificate {{.Template}}{{end}} is approved.
{{if .Comment}}Comment: {{.Comment}}
{{end}}` + signature}},
	{KindDocumentRejected, "Document rejected: to the document's owner, with the reason", apiv1.MailTemplateInput{
		Subject: "Document rejected: your {{.DocKind}}",
		Text: `Hello {{.User.Name}},

your {{.DocKind}}{{if .Template}} for the certificate {{.Template}}{{end}} was rejected.
{{if .Comment}}Reason: {{.Comment}}
{{end}}
Correct the document, sign it and upload it again in Self-Service.
` + signature}},
	{KindRandomPIN, "Random user PIN: to the user or the manager the policy names (the subject never shows the PIN)", apiv1.MailTemplateInput{
		Subject: "User PIN of card {{.Card.Serial}}",
		Text: `Hello,

the card {{.Card.Serial}} ({{.Card.CardType}}) was issued to {{.User.Name}} ({{.User.Login}}) with a random user PIN:

    {{.PIN}}

Keep it secret and delete this e-mail once the PIN is safe.
` + signature}},
	{KindAirCardCode, "AirCard connection code: to the AirCard's owner when an operator sends one (the subject never shows the code)", apiv1.MailTemplateInput{
		Subject: "Connection code for your AirCard {{.Card.Serial}}",
		Text: `Hello {{.User.Name}},

to use your AirCard {{.Card.Serial}}{{if .Card.Name}} ({{.Card.Name}}){{end}} on another computer, run this on that computer:

    lanyard agent aircard add {{.Code}}

The code works once, for one hour. If you did not ask for it, tell your help desk.
` + signature}},
	{KindRSSSignIn, "Remote Self-Service sign-in: to the user who signed in with secret answers alone (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Remote Self-Service sign-in as {{.User.Login}}",
		Text: `Hello {{.User.Name}},

someone signed in to Remote Self-Service as {{.User.Login}} with your secret answers{{if .Address}}, from {{.Address}}{{end}}.
There they can disable your cards and get the response that unblocks a card's PIN.
If it was not you, tell your help desk at once: someone knows your answers.
` + signature}},
	{KindSecretAnswersLocked, "Secret answers locked: to the user whose answers too many wrong answers locked (their manager in copy when the policy says so)", apiv1.MailTemplateInput{
		Subject: "Your secret answers are locked",
		Text: `Hello {{.User.Name}},

your secret answers were answered wrongly too many times in a row{{if .Address}}, last from {{.Address}}{{end}}, and are now locked:
Remote Self-Service and PIN resets that ask them refuse until your help desk unlocks them.
If it was not you, someone may be guessing them: tell your help desk.
` + signature}},
	{KindSecretAnswersLockedOps, "Secret answers locked: to the operators, who unlock them", apiv1.MailTemplateInput{
		Subject: "Secret answers of {{.User.Login}} locked",
		Text: `Hello,

the secret answers of {{.User.Name}} ({{.User.Login}}) were answered wrongly too many times in a row{{if .Address}}, last from {{.Address}}{{end}}, and are now locked.
Speak with the user before unlocking them (lanyard user secret-answers unlock {{.User.Login}}): someone may be guessing.
` + signature}},
	{KindTest, "Test e-mail: sent from the settings page", apiv1.MailTemplateInput{
		Subject: "Lanyard test e-mail",
		Text: `Hello,

this is a test e-mail from Lanyard, sent by {{.User.Name}} ({{.User.Login}}).
If you can read it, the SMTP settings work.
` + signature}},
}

func kindByName(kind string) (kindInfo, bool) {
	i := slices.IndexFunc(kinds, func(k kindInfo) bool { return k.kind == kind })
	if i < 0 {
		return kindInfo{}, false
	}
	return kinds[i], true
}

func templateKey(kind string) string { return "mail.template." + kind }

// loadTemplate returns a kind's template: the stored one, or the default.
func loadTemplate(tx lanyard.Tx, k kindInfo) (*apiv1.MailTemplate, error) {
	t := &apiv1.MailTemplate{Kind: k.kind, Description: k.description, Subject: k.def.Subject, Text: k.def.Text, HTML: k.def.HTML, Default: true, Fields: fields}
	b, err := tx.Setting(templateKey(k.kind))
	if lanyard.IsCode(err, lanyard.ENotFound) || (err == nil && len(b) == 0) {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	var in apiv1.MailTemplateInput
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the stored template "+k.kind+" is corrupt")
	}
	t.Subject, t.Text, t.HTML, t.Default = in.Subject, in.Text, in.HTML, false
	return t, nil
}

// MailTemplates returns every kind's template.
func (m *Mailer) MailTemplates(ctx context.Context) ([]*apiv1.MailTemplate, error) {
	out := make([]*apiv1.MailTemplate, 0, len(kinds))
	err := m.cfg.Store.View(ctx, func(tx lanyard.Tx) error {
		for _, k := range kinds {
			t, err := loadTemplate(tx, k)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// PutMailTemplate replaces a kind's template once it parses and renders
// the sample data; all fields empty restores the default.
func (m *Mailer) PutMailTemplate(ctx context.Context, p *lanyard.Principal, kind string, in apiv1.MailTemplateInput) (*apiv1.MailTemplate, error) {
	k, ok := kindByName(kind)
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "no notification kind %q", kind)
	}
	reset := strings.TrimSpace(in.Subject) == "" && strings.TrimSpace(in.Text) == "" && strings.TrimSpace(in.HTML) == ""
	var value []byte
	if !reset {
		if _, err := compile(in); err != nil {
			return nil, err
		}
		var err error
		if value, err = json.Marshal(in); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot encode the template")
		}
	}
	var out *apiv1.MailTemplate
	err := m.update(ctx, func(tx lanyard.Tx) (*lanyard.AuditEvent, error) {
		if err := tx.PutSetting(templateKey(kind), value); err != nil {
			return nil, err
		}
		var err error
		if out, err = loadTemplate(tx, k); err != nil {
			return nil, err
		}
		return m.event(p, "mail.template", "mail_template", kind, map[string]any{"default": reset}), nil
	})
	return out, err
}

// compiled is a parsed template.
type compiled struct {
	subject, text *template.Template
	html          *htmltemplate.Template // nil: text only
}

// Limits of a template's parts.
const (
	maxSubjectTemplate = 1000
	maxBodyTemplate    = 64 << 10
)

// compile parses in and renders it on the sample data, so that a
// template that names a missing field or fails to execute is refused when
// it is saved, not when a notification needs it.
func compile(in apiv1.MailTemplateInput) (*compiled, error) {
	if strings.TrimSpace(in.Subject) == "" || strings.TrimSpace(in.Text) == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a template needs a subject and a text body")
	}
	if len(in.Subject) > maxSubjectTemplate || len(in.Text) > maxBodyTemplate || len(in.HTML) > maxBodyTemplate {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the subject is limited to %d characters and each body to %d", maxSubjectTemplate, maxBodyTemplate)
	}
	var c compiled
	var err error
	if c.subject, err = template.New("subject").Option("missingkey=error").Parse(in.Subject); err != nil {
		return nil, templateError("subject", err)
	}
	if c.text, err = template.New("text").Option("missingkey=error").Parse(in.Text); err != nil {
		return nil, templateError("text", err)
	}
	if strings.TrimSpace(in.HTML) != "" {
		if c.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(in.HTML); err != nil {
			return nil, templateError("HTML", err)
		}
	}
	if _, err := c.render(sample); err != nil {
		return nil, err
	}
	return &c, nil
}

func templateError(part string, err error) error {
	return lanyard.Errorf(lanyard.EInvalid, "the %s template is not valid: %s", part, strings.TrimPrefix(err.Error(), "template: "))
}

// rendered is a notification's subject and bodies.
type rendered struct{ subject, text, html string }

// render executes the template on d. The subject is rendered without
// the PIN, so that it can be stored and shown in the outbox, and on one
// line, so that it cannot add header fields.
func (c *compiled) render(d Data) (*rendered, error) {
	var r rendered
	var b bytes.Buffer
	noPIN := d // subjects are stored in clear and audited: no secrets
	noPIN.PIN, noPIN.Code = "(not shown)", "(not shown)"
	if err := c.subject.Execute(&b, noPIN); err != nil {
		return nil, templateError("subject", err)
	}
	r.subject = strings.Join(strings.Fields(b.String()), " ")
	if r.subject == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the subject template renders to nothing")
	}
	if len(r.subject) > 998 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the subject renders longer than 998 characters")
	}
	b.Reset()
	if err := c.text.Execute(&b, d); err != nil {
		return nil, templateError("text", err)
	}
	r.text = b.String()
	if c.html != nil {
		b.Reset()
		if err := c.html.Execute(&b, d); err != nil {
			return nil, templateError("HTML", err)
		}
		r.html = b.String()
	}
	return &r, nil
}
