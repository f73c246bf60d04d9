//go:build integration

package notify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
)

// smtpHarness is a harness with the test SMTP servers.
type smtpHarness struct {
	*harness
	env *mailpittest.Env
}

// newHarness returns a Mailer over a fresh SQLite store with a short
// backoff, so retries happen within the test.
func newHarness(t *testing.T, tweak func(*notify.Config)) *smtpHarness {
	t.Helper()
	return newHarnessOn(t, "sqlite", tweak)
}

// newHarnessOn is newHarness on a fresh store of engine (sqlite or
// postgres).
func newHarnessOn(t *testing.T, engine string, tweak func(*notify.Config)) *smtpHarness {
	t.Helper()
	env := mailpittest.MustEnv(t)
	return &smtpHarness{harness: newStoreHarness(t, engine, env.RootCAs(t), tweak), env: env}
}

// settings points the mailer at addr.
func (h *harness) settings(t *testing.T, addr, security, user, password string) {
	t.Helper()
	host, port := mailpittest.HostPort(t, addr)
	if host == "127.0.0.1" && security != apiv1.SMTPNone {
		host = "localhost" // the certificate names both; exercise the name
	}
	_, err := h.mailer.PutMailSettings(t.Context(), admin, apiv1.MailSettingsInput{
		Enabled: true, Host: host, Port: port, Security: security, Username: user, Password: password, From: "Lanyard <lanyard@example.com>",
	})
	if err != nil {
		t.Fatal(err)
	}
}

// deliver runs one delivery pass.
func (h *harness) deliver(t *testing.T) int {
	t.Helper()
	n, err := h.mailer.DeliverDue(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// addr returns a recipient address unique to this test run.
func addr(t *testing.T, who string) string {
	var b [4]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return who + "-" + name + "-" + hex.EncodeToString(b[:]) + "@example.com"
}

func (h *harness) outbox(t *testing.T, state lanyard.MailState) []*lanyard.MailMessage {
	t.Helper()
	list, err := h.mailer.ListMail(t.Context(), lanyard.MailFilter{State: state})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (h *harness) audit(t *testing.T, action string) []*lanyard.AuditEvent {
	t.Helper()
	var out []*lanyard.AuditEvent
	err := h.store.View(t.Context(), func(tx lanyard.Tx) (err error) {
		out, err = tx.ListAudit(lanyard.AuditFilter{Action: action})
		return
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func contains(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, s)
		}
	}
}

// TestEveryKindArrives sends each notification kind through a real SMTP
// server and reads it back: recipients, subject, body, attachment.
func TestEveryKindArrives(t *testing.T) {
	h := newHarness(t, nil)
	// PINs, codes and documents go only over TLS: the STARTTLS server.
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, h.env.User, h.env.Password)
	ctx := t.Context()
	alice := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice Example", Email: addr(t, "alice")}
	card := &lanyard.Card{ID: 9, Serial: "99887766", CardType: "piv"}
	boss := addr(t, "boss")
	officers := []string{addr(t, "officer1"), addr(t, "officer2")}
	pdf := []byte("%PDF-1.7\nsigned form\x00\x01\x02")

	if err := h.mailer.RandomPIN(ctx, []string{alice.Email, boss}, alice, card, "73915528"); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"pending", "approved", "rejected"} {
		if err := h.mailer.CardIssue(ctx, []string{alice.Email}, cardops.CardIssueEvent{Kind: kind, User: alice, Card: card, Template: "e-signature", Comment: "key too weak"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.mailer.Document(ctx, officers, documents.DocumentEvent{Kind: "uploaded", User: alice, Card: card, DocKind: "certificate_form", Template: "e-signature",
		FileName: "form.pdf", ContentType: "application/pdf", Content: pdf}); err != nil {
		t.Fatal(err)
	}
	if err := h.mailer.AirCardCode(ctx, []string{alice.Email}, alice, card, "QWERT-YUIOP"); err != nil {
		t.Fatal(err)
	}
	receiver := addr(t, "officer3")
	if err := h.mailer.Document(ctx, []string{receiver}, documents.DocumentEvent{Kind: "received", User: alice, Card: card, DocKind: "certificate_form",
		Template: "e-signature", Comment: "signed paper received by post", By: "olga"}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"approved", "rejected"} {
		if err := h.mailer.Document(ctx, []string{alice.Email}, documents.DocumentEvent{Kind: kind, User: alice, Card: card, DocKind: "certificate_request", Comment: "unsigned"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.mailer.SendTestMail(ctx, admin, boss); err != nil {
		t.Fatal(err)
	}
	// The PIN is sealed at rest: neither the stored row nor the audit log
	// holds it.
	err := h.store.View(ctx, func(tx lanyard.Tx) error {
		list, err := tx.ListMail(lanyard.MailFilter{})
		if err != nil {
			return err
		}
		for _, m := range list {
			full, err := tx.MailByID(m.ID)
			if err != nil {
				return err
			}
			if bytes.Contains(full.Content, []byte("73915528")) || bytes.Contains(full.Content, []byte("signed form")) || strings.Contains(full.Subject, "73915528") ||
				bytes.Contains(full.Content, []byte("QWERT-YUIOP")) || strings.Contains(full.Subject, "QWERT-YUIOP") {
				t.Errorf("message %d (%s) is stored in clear", m.ID, m.Kind)
			}
		}
		evs, err := tx.ListAudit(lanyard.AuditFilter{})
		for _, e := range evs {
			if bytes.Contains(e.Details, []byte("73915528")) {
				t.Errorf("audit event %s holds the PIN", e.Action)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := h.deliver(t); n != 10 {
		t.Fatalf("delivered %d, want 10", n)
	}

	// Alice: PIN, three card issue mails, two document decisions, an
	// AirCard connection code.
	got := mailpittest.Wait(t, h.env.StartTLSAPI, alice.Email, 7)
	subjects := map[string]*mailpittest.Message{}
	for _, m := range got {
		subjects[m.Subject] = m
	}
	pin := subjects["User PIN of card 99887766"]
	if pin == nil {
		t.Fatalf("no PIN mail among %v", keys(subjects))
	}
	contains(t, "PIN mail", pin.Text, "73915528", "Alice Example (alice)", "99887766")
	if r := pin.Recipients(); !slices.Contains(r, alice.Email) || !slices.Contains(r, boss) {
		t.Errorf("PIN mail to %v", r)
	}
	if pin.From.Address != "lanyard@example.com" || pin.From.Name != "Lanyard" {
		t.Errorf("from %+v", pin.From)
	}
	for subject, want := range map[string][]string{
		"Card issue pending: card 99887766":                {"Hello Alice Example", "is pending for the certificate e-signature"},
		"Card issue approved: card 99887766":               {"Continue card issue"},
		"Card issue rejected: card 99887766":               {"Comment: key too weak", "Revoke and clear card"},
		"Document approved: your certificate request form": {"is approved"},
		"Document rejected: your certificate request form": {"Reason: unsigned", "upload it again"},
		"Connection code for your AirCard 99887766":        {"lanyard agent aircard add QWERT-YUIOP", "works once, for one hour"},
	} {
		m := subjects[subject]
		if m == nil {
			t.Errorf("no mail %q among %v", subject, keys(subjects))
			continue
		}
		contains(t, subject, m.Text, want...)
		contains(t, subject, m.Text, "https://lanyard.example.com")
	}

	// A document received by other means: how it came and who recorded it.
	if m := mailpittest.Wait(t, h.env.StartTLSAPI, receiver, 1)[0]; m.Subject != "Document to review: certificate form of Alice Example (received by other means)" {
		t.Errorf("receipt mail subject %q", m.Subject)
	} else {
		contains(t, "receipt mail", m.Text, "certificate form of Alice Example (alice) for the certificate e-signature, card 99887766 was received by other means, as olga recorded",
			"signed paper received by post", "approve or reject it")
	}

	// Document officers: one mail to both, the form attached.
	for _, o := range officers {
		got := mailpittest.Wait(t, h.env.StartTLSAPI, o, 1)
		m := got[0]
		if m.Subject != "Document to review: certificate form of Alice Example" {
			t.Errorf("officer mail subject %q", m.Subject)
		}
		contains(t, "officer mail", m.Text, "Alice Example (alice) uploaded a signed certificate form for the certificate e-signature, card 99887766", "form.pdf")
		if len(m.Attachments) != 1 || m.Attachments[0].FileName != "form.pdf" || m.Attachments[0].ContentType != "application/pdf" {
			t.Fatalf("attachments %+v", m.Attachments)
		}
		if b := mailpittest.Part(t, h.env.StartTLSAPI, m.ID, m.Attachments[0].PartID); !bytes.Equal(b, pdf) {
			t.Errorf("attachment %q, want %q", b, pdf)
		}
	}
	// The test mail to the manager's address too.
	bossMail := mailpittest.Wait(t, h.env.StartTLSAPI, boss, 2)
	if !slices.ContainsFunc(bossMail, func(m *mailpittest.Message) bool {
		return m.Subject == "Lanyard test e-mail" && strings.Contains(m.Text, "sent by Root Admin (root)")
	}) {
		t.Errorf("no test mail to %s", boss)
	}

	sent := h.outbox(t, lanyard.MailSent)
	if len(sent) != 10 {
		t.Errorf("%d sent in the outbox, want 10", len(sent))
	}
	for _, m := range sent {
		if m.Attempts != 1 || m.SentAt.IsZero() || m.LastError != "" {
			t.Errorf("sent message %+v", m)
		}
	}
	if q, s := len(h.audit(t, "mail.queue")), len(h.audit(t, "mail.sent")); q != 10 || s != 10 {
		t.Errorf("audit: %d mail.queue, %d mail.sent; want 10 each", q, s)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestStartTLSWithAuth delivers over STARTTLS with AUTH PLAIN to a server
// that requires both, verifying its certificate.
func TestStartTLSWithAuth(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, h.env.User, h.env.Password)
	to := addr(t, "ops")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, to); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	if st := h.outbox(t, ""); st[0].State != lanyard.MailSent {
		t.Fatalf("message %s: %s", st[0].State, st[0].LastError)
	}
	mailpittest.Wait(t, h.env.StartTLSAPI, to, 1)
}

// TestImplicitTLSWithAuth delivers over TLS from the first byte (465).
func TestImplicitTLSWithAuth(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.TLS, apiv1.SMTPTLS, h.env.User, h.env.Password)
	to := addr(t, "ops")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, to); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	if st := h.outbox(t, ""); st[0].State != lanyard.MailSent {
		t.Fatalf("message %s: %s", st[0].State, st[0].LastError)
	}
	mailpittest.Wait(t, h.env.TLSAPI, to, 1)
}

// TestUntrustedCertificateWaits: a server whose certificate is not
// trusted gets nothing, and the message waits for another attempt.
func TestUntrustedCertificateWaits(t *testing.T) {
	h := newHarness(t, func(c *notify.Config) { c.RootCAs = nil })
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, h.env.User, h.env.Password)
	if _, err := h.mailer.SendTestMail(t.Context(), admin, addr(t, "ops")); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	m := h.outbox(t, "")[0]
	if m.State != lanyard.MailQueued || !strings.Contains(m.LastError, "certificate") {
		t.Fatalf("message %s, error %q", m.State, m.LastError)
	}
}

// TestRefusedFailsAtOnce: a permanent SMTP refusal (530, authentication
// required) fails the message on the first attempt, visibly.
func TestRefusedFailsAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, "", "")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, addr(t, "ops")); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	failed := h.outbox(t, lanyard.MailFailed)
	if len(failed) != 1 || failed[0].Attempts != 1 || !strings.Contains(failed[0].LastError, "5") {
		t.Fatalf("failed: %+v", failed)
	}
	if evs := h.audit(t, "mail.failed"); len(evs) != 1 {
		t.Errorf("%d mail.failed events", len(evs))
	}
}

// TestServerDownThenUp: while the SMTP server is down the message stays
// queued with its attempts, error and next attempt; once the server is
// back, the next attempt delivers it.
func TestServerDownThenUp(t *testing.T) {
	h := newHarness(t, nil)
	smtpAddr := mailpittest.FreeAddr(t)
	h.settings(t, smtpAddr, apiv1.SMTPNone, "", "")
	to := addr(t, "user")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, to); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		before := time.Now()
		h.deliver(t)
		m := h.outbox(t, "")[0]
		if m.State != lanyard.MailQueued || m.Attempts != i || !strings.Contains(m.LastError, "connect") || !m.NextAttemptAt.After(before) {
			t.Fatalf("attempt %d while down: %+v", i, m)
		}
		if n := h.deliver(t); n != 0 {
			t.Fatalf("a message was tried again before its next attempt time")
		}
		time.Sleep(time.Until(m.NextAttemptAt))
	}
	api, _ := h.env.Start(t, smtpAddr)
	h.deliver(t)
	m := h.outbox(t, "")[0]
	if m.State != lanyard.MailSent || m.Attempts != 3 {
		t.Fatalf("after the server returned: %+v", m)
	}
	mailpittest.Wait(t, api, to, 1)
}

// TestAttemptsRunOut: a message that never gets through ends failed after
// MaxAttempts, visible in the outbox; a retry queues it with fresh
// attempts and delivers it once the server works.
func TestAttemptsRunOut(t *testing.T) {
	h := newHarness(t, func(c *notify.Config) { c.MaxAttempts = 2 })
	smtpAddr := mailpittest.FreeAddr(t)
	h.settings(t, smtpAddr, apiv1.SMTPNone, "", "")
	to := addr(t, "user")
	msg, err := h.mailer.SendTestMail(t.Context(), admin, to)
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	time.Sleep(time.Until(h.outbox(t, "")[0].NextAttemptAt))
	h.deliver(t)
	failed := h.outbox(t, lanyard.MailFailed)
	if len(failed) != 1 || failed[0].ID != msg.ID || failed[0].Attempts != 2 || failed[0].LastError == "" {
		t.Fatalf("failed: %+v", failed)
	}
	if _, err := h.mailer.RetryMail(t.Context(), admin, 999); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("retry of a missing message: %v", err)
	}
	api, _ := h.env.Start(t, smtpAddr)
	again, err := h.mailer.RetryMail(t.Context(), admin, msg.ID)
	if err != nil || again.State != lanyard.MailQueued || again.Attempts != 0 {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	if _, err := h.mailer.RetryMail(t.Context(), admin, msg.ID); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("retry of a queued message: %v", err)
	}
	h.deliver(t)
	mailpittest.Wait(t, api, to, 1)
}

// TestRunDeliversAndStops: the background worker delivers a queued
// message promptly and returns when its context ends.
func TestRunDeliversAndStops(t *testing.T) {
	h := newHarness(t, func(c *notify.Config) { c.Poll = time.Hour }) // only Wake can start a pass
	h.settings(t, h.env.SMTP, apiv1.SMTPNone, "", "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { h.mailer.Run(ctx); close(done) }()
	to := addr(t, "user")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, to); err != nil {
		t.Fatal(err)
	}
	mailpittest.Wait(t, h.env.API, to, 1)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestDisabledRefuses: with notifications off nothing is queued and the
// caller hears why; queued messages wait without attempts.
func TestDisabledRefuses(t *testing.T) {
	h := newHarness(t, nil)
	err := h.mailer.RandomPIN(t.Context(), []string{"a@example.com"}, &lanyard.User{Login: "a"}, &lanyard.Card{Serial: "1"}, "123456")
	if !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Fatalf("RandomPIN while off: %v", err)
	}
	h.settings(t, h.env.SMTP, apiv1.SMTPNone, "", "")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mailer.PutMailSettings(t.Context(), admin, apiv1.MailSettingsInput{Enabled: false, Host: "x", Security: "none"}); err != nil {
		t.Fatal(err)
	}
	if n := h.deliver(t); n != 0 {
		t.Fatalf("delivered %d while off", n)
	}
	if m := h.outbox(t, "")[0]; m.State != lanyard.MailQueued || m.Attempts != 0 {
		t.Fatalf("message while off: %+v", m)
	}
	for _, bad := range []string{"", "not an address", "a@example.com\r\nBcc: x@example.com"} {
		if _, err := h.mailer.SendTestMail(t.Context(), admin, bad); !lanyard.IsCode(err, lanyard.EInvalid) && !lanyard.IsCode(err, lanyard.EUnavailable) {
			t.Errorf("test mail to %q: %v", bad, err)
		}
	}
}

func waitOne(t *testing.T, h *smtpHarness, to string) *mailpittest.Message {
	t.Helper()
	return mailpittest.Wait(t, h.env.API, to, 1)[0]
}

// TestSecretBodyGoneOnceSent (issue 13, item 13): mails carrying a random
// PIN, an AirCard code and a document arrive over STARTTLS with a
// verified certificate, and afterwards the outbox keeps none of their
// bodies, only the metadata; on both engines.
func TestSecretBodyGoneOnceSent(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			h := newHarnessOn(t, engine, nil)
			h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, h.env.User, h.env.Password)
			ctx := t.Context()
			alice := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice Example", Email: addr(t, "alice")}
			card := &lanyard.Card{ID: 9, Serial: "99887766", CardType: "piv"}
			officer := addr(t, "officer")
			if err := h.mailer.RandomPIN(ctx, []string{alice.Email}, alice, card, "73915528"); err != nil {
				t.Fatal(err)
			}
			if err := h.mailer.AirCardCode(ctx, []string{alice.Email}, alice, card, "QWERT-YUIOP"); err != nil {
				t.Fatal(err)
			}
			if err := h.mailer.Document(ctx, []string{officer}, documents.DocumentEvent{Kind: "uploaded", User: alice, Card: card, DocKind: "certificate_form",
				FileName: "form.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.7 signed")}); err != nil {
				t.Fatal(err)
			}
			if n := h.deliver(t); n != 3 {
				t.Fatalf("delivered %d, want 3", n)
			}
			for _, m := range mailpittest.Wait(t, h.env.StartTLSAPI, alice.Email, 2) {
				if !strings.Contains(m.Text, "73915528") && !strings.Contains(m.Text, "QWERT-YUIOP") {
					t.Errorf("mail %q lacks its secret", m.Subject)
				}
			}
			mailpittest.Wait(t, h.env.StartTLSAPI, officer, 1)
			sent := h.outbox(t, lanyard.MailSent)
			if len(sent) != 3 {
				t.Fatalf("%d sent, want 3", len(sent))
			}
			for _, m := range sent {
				full := h.stored(t, m.ID)
				if len(full.Content) != 0 {
					t.Errorf("sent %s message %d keeps its body (%d bytes)", m.Kind, m.ID, len(full.Content))
				}
				if len(full.To) == 0 || full.Subject == "" || full.SentAt.IsZero() || full.Kind == "" {
					t.Errorf("sent message %d lost its metadata: %+v", m.ID, full)
				}
			}
		})
	}
}

// TestSecretRefusedWithoutTLS (issue 13, item 13): a mail carrying a PIN,
// a code or a document, queued while the relay was reached over TLS, is
// never sent once the settings say security none: it fails at once with
// the reason in the outbox, its body discarded and no retry; a mail
// without a secret (the test e-mail) still goes.
func TestSecretRefusedWithoutTLS(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, "", "") // queued, not sent
	ctx := t.Context()
	alice := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice Example", Email: addr(t, "alice")}
	card := &lanyard.Card{ID: 9, Serial: "99887766", CardType: "piv"}
	if err := h.mailer.RandomPIN(ctx, []string{alice.Email}, alice, card, "73915528"); err != nil {
		t.Fatal(err)
	}
	if err := h.mailer.AirCardCode(ctx, []string{alice.Email}, alice, card, "QWERT-YUIOP"); err != nil {
		t.Fatal(err)
	}
	if err := h.mailer.Document(ctx, []string{alice.Email}, documents.DocumentEvent{Kind: "uploaded", User: alice, Card: card, DocKind: "certificate_form",
		FileName: "form.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.7 signed")}); err != nil {
		t.Fatal(err)
	}
	h.settings(t, h.env.SMTP, apiv1.SMTPNone, "", "")
	ops := addr(t, "ops")
	if _, err := h.mailer.SendTestMail(ctx, admin, ops); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	mailpittest.Wait(t, h.env.API, ops, 1)
	failed := h.outbox(t, lanyard.MailFailed)
	if len(failed) != 3 {
		t.Fatalf("%d failed, want the 3 carrying a secret; outbox %+v", len(failed), h.outbox(t, ""))
	}
	for _, m := range failed {
		if m.Attempts != 1 || !strings.Contains(m.LastError, "only over TLS") || !strings.Contains(m.LastError, "starttls or tls") {
			t.Errorf("%s message: attempts %d, error %q", m.Kind, m.Attempts, m.LastError)
		}
		if b := h.stored(t, m.ID).Content; len(b) != 0 {
			t.Errorf("the refused %s message keeps its body", m.Kind)
		}
		if _, err := h.mailer.RetryMail(ctx, admin, m.ID); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "discarded") {
			t.Errorf("retry of the discarded %s message: %v", m.Kind, err)
		}
	}
	time.Sleep(200 * time.Millisecond) // anything sent would have arrived by now
	if got := mailpittest.Find(t, h.env.API, alice.Email); len(got) != 0 {
		t.Fatalf("%d secret mails went over plain SMTP", len(got))
	}
	if evs := h.audit(t, "mail.failed"); len(evs) != 3 || !bytes.Contains(evs[0].Details, []byte(`"content_discarded":true`)) {
		t.Errorf("mail.failed events: %d", len(evs))
	}
}

// TestSecretNotQueuedWithoutTLS: with security none a mail carrying a
// PIN, a code or a document is refused when it is queued (EUnavailable,
// "not sent"), so that the caller never reports it mailed; nothing is
// queued, and a mail without a secret still is.
func TestSecretNotQueuedWithoutTLS(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.SMTP, apiv1.SMTPNone, "", "")
	ctx := t.Context()
	alice := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice Example", Email: addr(t, "alice")}
	card := &lanyard.Card{ID: 9, Serial: "99887766", CardType: "piv"}
	refused := func(what string, err error) {
		t.Helper()
		if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "not sent: the mail relay has no TLS") {
			t.Errorf("%s over a relay without TLS: %v", what, err)
		}
	}
	refused("random PIN", h.mailer.RandomPIN(ctx, []string{alice.Email}, alice, card, "73915528"))
	refused("AirCard code", h.mailer.AirCardCode(ctx, []string{alice.Email}, alice, card, "QWERT-YUIOP"))
	refused("document", h.mailer.Document(ctx, []string{alice.Email}, documents.DocumentEvent{Kind: "uploaded", User: alice, Card: card, DocKind: "certificate_form",
		FileName: "form.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.7 signed")}))
	if got := h.outbox(t, ""); len(got) != 0 {
		t.Fatalf("%d secret mails queued for a relay without TLS", len(got))
	}
	if _, err := h.mailer.SendTestMail(ctx, admin, addr(t, "ops")); err != nil {
		t.Fatal(err)
	}
}

// stored reads a message with its body, as the store keeps it.
func (h *harness) stored(t *testing.T, id int64) *lanyard.MailMessage {
	t.Helper()
	var m *lanyard.MailMessage
	if err := h.store.View(t.Context(), func(tx lanyard.Tx) (err error) { m, err = tx.MailByID(id); return }); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNoSTARTTLSNamesNoPlainRelay: a relay that offers no STARTTLS is
// reported as such, without suggesting security none (which sends
// everything in clear).
func TestNoSTARTTLSNamesNoPlainRelay(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.SMTP, apiv1.SMTPStartTLS, "", "")
	if _, err := h.mailer.SendTestMail(t.Context(), admin, addr(t, "ops")); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	m := h.outbox(t, "")[0]
	if !strings.Contains(m.LastError, "does not offer STARTTLS") || strings.Contains(m.LastError, "none") {
		t.Fatalf("error of a relay without STARTTLS: %q", m.LastError)
	}
}

// TestQueueRandomPINInCallersTransaction: QueueRandomPIN queues in the
// caller's transaction, so the caller's claim of the PIN and the mail
// land together or not at all: a transaction that fails after it leaves
// no message; one that commits leaves one, with the caller's audit event
// only (none of the mailer's), and it is delivered.
func TestQueueRandomPINInCallersTransaction(t *testing.T) {
	h := newHarness(t, nil)
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, h.env.User, h.env.Password)
	alice := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice Example", Email: addr(t, "alice")}
	card := &lanyard.Card{ID: 9, Serial: "99887766", CardType: "piv"}
	claimFailed := lanyard.Errorf(lanyard.EConflict, "the PIN was taken meanwhile")
	err := h.store.Update(t.Context(), func(tx lanyard.Tx) error {
		if _, err := h.mailer.QueueRandomPIN(tx, []string{alice.Email}, alice, card, "73915528"); err != nil {
			return err
		}
		return claimFailed
	})
	if err != claimFailed {
		t.Fatal(err)
	}
	if got := h.outbox(t, ""); len(got) != 0 {
		t.Fatalf("a rolled-back transaction queued %d messages", len(got))
	}
	var id int64
	err = h.store.Update(t.Context(), func(tx lanyard.Tx) (err error) {
		if id, err = h.mailer.QueueRandomPIN(tx, []string{alice.Email}, alice, card, "73915528"); err != nil {
			return err
		}
		return tx.AppendAudit(&lanyard.AuditEvent{Time: time.Now(), Actor: "alice", Action: "card.issue.pin_mail", ObjectType: "card", ObjectID: "9"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.outbox(t, lanyard.MailQueued); len(got) != 1 || got[0].ID != id || got[0].Kind != notify.KindRandomPIN {
		t.Fatalf("queued after the commit: %+v, want message %d", got, id)
	}
	if evs := h.audit(t, "mail.queue"); len(evs) != 0 {
		t.Errorf("the mailer appended %d events of its own", len(evs))
	}
	if n := h.deliver(t); n != 1 {
		t.Fatalf("delivered %d", n)
	}
	if got := h.outbox(t, lanyard.MailSent); len(got) != 1 {
		t.Fatalf("sent: %+v", got)
	}

}
