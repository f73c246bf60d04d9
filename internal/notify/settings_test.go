//go:build integration

package notify_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
)

// TestTemplates: templates are editable, checked by parsing and a trial
// run before they are saved, used for the next message, and reset to the
// default by an empty input.
func TestTemplates(t *testing.T) {
	h := newHarness(t, nil)
	ctx := t.Context()
	list, err := h.mailer.MailTemplates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 33 {
		t.Fatalf("%d templates, want 33", len(list))
	}
	for _, k := range []string{notify.KindCardDisabled, notify.KindCardEnabled, notify.KindCardRevoked, notify.KindCardReplaced, notify.KindCardPINReset, notify.KindCardOfflineUnblock, notify.KindCardPINBlocked,
		notify.KindRSSSignIn, notify.KindSecretAnswersLocked, notify.KindSecretAnswersLockedOps,
		notify.KindCardContentExpiring, notify.KindCardContentExpired, notify.KindCardContentOperators,
		notify.KindKeyRecovered, notify.KindKeyRecoveryRequest, notify.KindKeyRecoveryApproved, notify.KindKeyRecoveryRejected,
		notify.KindCardUpdated, notify.KindCardUpdatePending, notify.KindCardUpdateCancelled, notify.KindCardUpdateApproved, notify.KindCardUpdateRejected, notify.KindKeyRecoveredToCard} {
		if !slices.ContainsFunc(list, func(m *apiv1.MailTemplate) bool { return m.Kind == k }) {
			t.Errorf("no template of kind %s", k)
		}
	}
	for _, tc := range []struct {
		what string
		in   apiv1.MailTemplateInput
		want string
	}{
		{"parse error", apiv1.MailTemplateInput{Subject: "Hi {{.User.Name", Text: "x"}, "subject template is not valid"},
		{"unknown field", apiv1.MailTemplateInput{Subject: "Hi", Text: "{{.User.Salary}}"}, "text template is not valid"},
		{"no text", apiv1.MailTemplateInput{Subject: "Hi", Text: " "}, "needs a subject and a text body"},
		{"bad HTML", apiv1.MailTemplateInput{Subject: "Hi", Text: "x", HTML: "<p>{{.Nope}}</p>"}, "HTML template is not valid"},
	} {
		_, err := h.mailer.PutMailTemplate(ctx, admin, "card_issue_approved", tc.in)
		if !lanyard.IsCode(err, lanyard.EInvalid) || !strings.Contains(lanyard.ErrorMessage(err), tc.want) {
			t.Errorf("%s: %v", tc.what, err)
		}
	}
	if _, err := h.mailer.PutMailTemplate(ctx, admin, "nonsense", apiv1.MailTemplateInput{Subject: "a", Text: "b"}); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("unknown kind: %v", err)
	}
	tpl, err := h.mailer.PutMailTemplate(ctx, admin, "test", apiv1.MailTemplateInput{
		Subject: "Custom {{.User.Login}}\r\nBcc: evil@example.com", Text: "Custom body for {{.User.Name}}.", HTML: "<p>Custom <b>{{.User.Name}}</b></p>"})
	if err != nil || tpl.Default {
		t.Fatalf("saving: %+v, %v", tpl, err)
	}
	h.settings(t, h.env.SMTP, apiv1.SMTPNone, "", "")
	to := addr(t, "ops")
	msg, err := h.mailer.SendTestMail(ctx, admin, to)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Custom root Bcc: evil@example.com" {
		t.Errorf("subject %q: line breaks must not survive", msg.Subject)
	}
	h.deliver(t)
	got := waitOne(t, h, to)
	if got.Subject != msg.Subject || !strings.Contains(got.Text, "Custom body for Root Admin.") || !strings.Contains(got.HTML, "<b>Root Admin</b>") {
		t.Errorf("custom mail: %q %q %q", got.Subject, got.Text, got.HTML)
	}
	if tpl, err = h.mailer.PutMailTemplate(ctx, admin, "test", apiv1.MailTemplateInput{}); err != nil || !tpl.Default || tpl.Subject != "Lanyard test e-mail" {
		t.Fatalf("reset: %+v, %v", tpl, err)
	}
	if evs := h.audit(t, "mail.template"); len(evs) != 2 {
		t.Errorf("%d mail.template events, want 2", len(evs))
	}

	// Secrets stay out of subjects, which are stored in clear and
	// audited, even when an administrator puts them there.
	if _, err := h.mailer.PutMailTemplate(ctx, admin, "aircard_code", apiv1.MailTemplateInput{Subject: "Code {{.Code}} PIN {{.PIN}}", Text: "{{.Code}}"}); err != nil {
		t.Fatal(err)
	}
	u := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice", Email: addr(t, "alice")}
	h.settings(t, h.env.StartTLS, apiv1.SMTPStartTLS, "", "") // a code is queued only for a relay over TLS
	if err := h.mailer.AirCardCode(ctx, []string{u.Email}, u, &lanyard.Card{ID: 2, Serial: "42"}, "QWERT-YUIOP"); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, m := range h.outbox(t, lanyard.MailQueued) {
		subjects = append(subjects, m.Subject)
	}
	if !slices.Contains(subjects, "Code (not shown) PIN (not shown)") || strings.Contains(strings.Join(subjects, "|"), "QWERT-YUIOP") {
		t.Errorf("queued subjects %q", subjects)
	}
	for _, e := range h.audit(t, "mail.queue") {
		if bytes.Contains(e.Details, []byte("QWERT-YUIOP")) {
			t.Errorf("audit event %s holds the code", e.Action)
		}
	}
}

// TestSettingsCA: an internal relay whose certificate a private CA signed
// is verified through the CA certificates of the settings (the Mailer
// itself trusts only the system's roots here), shown back to the
// administrator; without them the certificate is not trusted.
func TestSettingsCA(t *testing.T) {
	h := newHarness(t, func(c *notify.Config) { c.RootCAs = nil })
	ctx := t.Context()
	_, port := mailpittest.HostPort(t, h.env.StartTLS)
	in := apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: apiv1.SMTPStartTLS,
		Username: h.env.User, Password: h.env.Password, From: "lanyard@example.com", CA: h.env.CAPEM(t)}
	got, err := h.mailer.PutMailSettings(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.CA != strings.TrimSpace(h.env.CAPEM(t)) {
		t.Errorf("settings show the CA %q", got.CA)
	}
	to := addr(t, "alice")
	u := &lanyard.User{ID: 1, Login: "alice", DisplayName: "Alice", Email: to}
	if err := h.mailer.RandomPIN(ctx, []string{to}, u, &lanyard.Card{ID: 2, Serial: "42"}, "24681357"); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	if m := mailpittest.Wait(t, h.env.StartTLSAPI, to, 1)[0]; !strings.Contains(m.Text, "24681357") {
		t.Errorf("PIN mail %q", m.Text)
	}

	// Without the CA: the certificate is not trusted, the mail waits.
	in.CA = ""
	if _, err := h.mailer.PutMailSettings(ctx, admin, in); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mailer.SendTestMail(ctx, admin, addr(t, "ops")); err != nil {
		t.Fatal(err)
	}
	h.deliver(t)
	if q := h.outbox(t, lanyard.MailQueued); len(q) != 1 || !strings.Contains(q[0].LastError, "certificate") {
		t.Fatalf("without the CA: %+v", q)
	}
}
