package notify

import (
	"context"
	"encoding/json"
	"net/mail"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// contentAAD binds sealed message content to its use.
const contentAAD = "mail-content"

// Limits of a queued message.
const (
	maxRecipients = 100
	maxContent    = 20 << 20 // attachments included
)

// Attachment is a file sent with a message.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// content is what is sealed in the outbox: everything but the envelope.
type content struct {
	Text        string       `json:"text"`
	HTML        string       `json:"html,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// checkRecipients parses, normalises and de-duplicates addresses.
func checkRecipients(to []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range to {
		a, err := mail.ParseAddress(strings.TrimSpace(s))
		if err != nil || strings.ContainsAny(a.Address, "\r\n") {
			return nil, lanyard.Errorf(lanyard.EInvalid, "%q is not an e-mail address", s)
		}
		key := strings.ToLower(a.Address)
		if !seen[key] {
			seen[key] = true
			out = append(out, a.Address)
		}
	}
	if len(out) == 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a message needs at least one recipient")
	}
	if len(out) > maxRecipients {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a message may have at most %d recipients", maxRecipients)
	}
	return out, nil
}

// enqueue renders kind's template on d and queues the message, sealed,
// with one audit event, in one transaction (queueIn).
func (m *Mailer) enqueue(ctx context.Context, p *lanyard.Principal, kind string, to []string, d Data, atts []Attachment) (*lanyard.MailMessage, error) {
	var msg *lanyard.MailMessage
	err := m.update(ctx, func(tx lanyard.Tx) (*lanyard.AuditEvent, error) {
		var err error
		if msg, err = m.queueIn(tx, kind, to, d, atts); err != nil {
			return nil, err
		}
		return m.event(p, "mail.queue", "mail", idString(msg.ID), map[string]any{"kind": kind, "to": msg.To, "subject": msg.Subject}), nil
	})
	if err != nil {
		return nil, err
	}
	m.Wake()
	return msg, nil
}

// queueIn renders kind's template on d and queues the message, sealed, in
// tx, without an audit event (the caller's names it) and without waking
// the worker (the caller does once tx commits). It refuses while
// notifications are off, and a secret (secretKinds, or attachments) while
// the relay is reached without TLS, so that callers can tell people the
// mail was not sent (service.mailRandomPIN does). The message returned
// has no Content.
func (m *Mailer) queueIn(tx lanyard.Tx, kind string, to []string, d Data, atts []Attachment) (*lanyard.MailMessage, error) {
	k, ok := kindByName(kind)
	if !ok {
		return nil, lanyard.Errorf(lanyard.EInternal, "no notification kind %q", kind)
	}
	to, err := checkRecipients(to)
	if err != nil {
		return nil, err
	}
	d.Kind, d.URL = kind, m.cfg.BaseURL
	st, err := loadSettings(tx)
	if err != nil {
		return nil, err
	}
	if !st.Enabled {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "e-mail notifications are turned off")
	}
	if (secretKinds[kind] || len(atts) > 0) && st.Security == apiv1.SMTPNone {
		// The worker would refuse it (attempt): say so now, so the
		// caller does not report it mailed.
		return nil, lanyard.Errorf(lanyard.EUnavailable, "not sent: the mail relay has no TLS (SMTP security none), and Lanyard sends PINs, codes and documents only over TLS")
	}
	t, err := loadTemplate(tx, k)
	if err != nil {
		return nil, err
	}
	c, err := compile(apiv1.MailTemplateInput{Subject: t.Subject, Text: t.Text, HTML: t.HTML})
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the "+kind+" template does not render")
	}
	r, err := c.render(d)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the "+kind+" template does not render")
	}
	plain, err := json.Marshal(content{Text: r.text, HTML: r.html, Attachments: atts})
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot encode the message")
	}
	if len(plain) > maxContent {
		return nil, lanyard.Errorf(lanyard.ETooLarge, "the message is larger than %d MiB", maxContent>>20)
	}
	sealed, err := m.cfg.Sealer.Seal(plain, []byte(contentAAD))
	clear(plain)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot seal the message")
	}
	now := m.clock()
	msg := &lanyard.MailMessage{
		Kind: kind, To: to, Subject: r.subject, Content: sealed, Size: int64(len(r.text) + len(r.html) + attachmentBytes(atts)),
		State: lanyard.MailQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := tx.CreateMail(msg); err != nil {
		return nil, err
	}
	msg.Content = nil
	return msg, nil
}

func attachmentBytes(atts []Attachment) int {
	n := 0
	for _, a := range atts {
		n += len(a.Data)
	}
	return n
}

// ListMail lists the outbox, newest first, without bodies.
func (m *Mailer) ListMail(ctx context.Context, f lanyard.MailFilter) ([]*lanyard.MailMessage, error) {
	if f.State != "" && !f.State.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "state must be queued, sending, sent or failed")
	}
	var out []*lanyard.MailMessage
	err := m.cfg.Store.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListMail(f); return })
	return out, err
}

// RetryMail queues a failed message again with a fresh count of
// attempts.
func (m *Mailer) RetryMail(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.MailMessage, error) {
	var msg *lanyard.MailMessage
	err := m.update(ctx, func(tx lanyard.Tx) (*lanyard.AuditEvent, error) {
		var err error
		if msg, err = tx.MailByID(id); err != nil {
			return nil, err
		}
		if msg.State != lanyard.MailFailed {
			return nil, lanyard.Errorf(lanyard.EConflict, "message %d is %s; only failed messages can be retried", id, msg.State)
		}
		if len(msg.Content) == 0 {
			// deliver discarded it: it carried a PIN, a code or a document.
			return nil, lanyard.Errorf(lanyard.EConflict, "message %d carried a PIN, a code or a document and was discarded when it failed; send it again from where it came (for example, reset the PIN)", id)
		}
		now := m.clock()
		prev := msg.LastError
		msg.State, msg.Attempts, msg.NextAttemptAt, msg.LastError, msg.UpdatedAt = lanyard.MailQueued, 0, now, "", now
		if err := tx.UpdateMail(msg); err != nil {
			return nil, err
		}
		return m.event(p, "mail.retry", "mail", idString(id), map[string]any{"kind": msg.Kind, "previous_error": prev}), nil
	})
	if err != nil {
		return nil, err
	}
	msg.Content = nil
	m.Wake()
	return msg, nil
}
