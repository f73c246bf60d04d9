//go:build integration

package web_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestNotificationsAPI drives the administrators' notification routes
// against a real SMTP server: settings (the password never comes back),
// templates (an invalid one is refused), the test e-mail, the outbox with
// a failed message and its retry.
func TestNotificationsAPI(t *testing.T) {
	smtp := mailpittest.MustEnv(t)
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := webtest.StartWith(t, st, webtest.Options{SMTPRootCAs: smtp.RootCAs(t)})
	e := &env{t: t, url: srv.URL, admin: srv.AdminToken, svc: srv.Service, store: st, srv: srv.Web}
	op := e.mustUser("op", lanyard.RoleOperator)

	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/notifications/settings"}, {"PUT", "/api/v1/notifications/settings"}, {"GET", "/api/v1/notifications/templates"},
		{"GET", "/api/v1/notifications/outbox"}, {"POST", "/api/v1/notifications/test"}, {"POST", "/api/v1/notifications/outbox/1/retry"},
	} {
		if got := e.do(r.method, r.path, op, map[string]any{}); got.status != 403 {
			t.Errorf("operator %s %s: %d", r.method, r.path, got.status)
		}
	}

	// Off: the test e-mail is refused with the reason.
	if r := e.do("POST", "/api/v1/notifications/test", e.admin, apiv1.TestMailInput{To: "x@example.com"}); r.status != 503 || !strings.Contains(r.problem().Detail, "turned off") {
		t.Errorf("test e-mail while off: %d %s", r.status, r.body)
	}

	// Settings: STARTTLS without credentials first (the server insists
	// on AUTH: the message fails at once), the password never returned.
	_, port := mailpittest.HostPort(t, smtp.StartTLS)
	in := apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: "starttls", From: "lanyard@example.com"}
	e.must(200, "PUT", "/api/v1/notifications/settings", e.admin, in)
	failTo := "fail-" + strings.ToLower(t.Name()) + "@example.com"
	var queued lanyard.MailMessage
	e.must(202, "POST", "/api/v1/notifications/test", e.admin, apiv1.TestMailInput{To: failTo}).json(&queued)
	if queued.State != lanyard.MailQueued || queued.Subject != "Lanyard test e-mail" {
		t.Errorf("queued %+v", queued)
	}
	if _, err := srv.Mailer.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	var failed []*lanyard.MailMessage
	e.must(200, "GET", "/api/v1/notifications/outbox?state=failed", e.admin, nil).json(&failed)
	if len(failed) != 1 || failed[0].ID != queued.ID || failed[0].LastError == "" {
		t.Fatalf("failed outbox: %+v", failed)
	}

	in.Username, in.Password = smtp.User, smtp.Password
	r := e.must(200, "PUT", "/api/v1/notifications/settings", e.admin, in)
	if bytes.Contains(r.body, []byte(smtp.Password)) {
		t.Errorf("PUT answered the password: %s", r.body)
	}
	r = e.must(200, "GET", "/api/v1/notifications/settings", e.admin, nil)
	var got apiv1.MailSettings
	r.json(&got)
	if bytes.Contains(r.body, []byte(smtp.Password)) || bytes.Contains(r.body, []byte(`"password"`)) || !got.PasswordSet || got.Host != "localhost" || got.Username != smtp.User {
		t.Errorf("GET settings: %s", r.body)
	}

	// Retry with the credentials in place: delivered.
	var retried lanyard.MailMessage
	e.must(200, "POST", "/api/v1/notifications/outbox/"+idStr(queued.ID)+"/retry", e.admin, nil).json(&retried)
	if retried.State != lanyard.MailQueued || retried.Attempts != 0 {
		t.Errorf("retried %+v", retried)
	}
	if r := e.do("POST", "/api/v1/notifications/outbox/"+idStr(queued.ID)+"/retry", e.admin, nil); r.status != 409 {
		t.Errorf("retry of a queued message: %d", r.status)
	}
	if _, err := srv.Mailer.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	mailpittest.Wait(t, smtp.StartTLSAPI, failTo, 1)
	var sent []*lanyard.MailMessage
	e.must(200, "GET", "/api/v1/notifications/outbox?state=sent", e.admin, nil).json(&sent)
	if len(sent) != 1 || sent[0].ID != queued.ID {
		t.Errorf("sent outbox: %+v", sent)
	}
	if r := e.do("GET", "/api/v1/notifications/outbox?state=lost", e.admin, nil); r.status != 400 {
		t.Errorf("bad state filter: %d", r.status)
	}

	// Templates: an invalid one is refused with the parser's words; a
	// valid one is saved.
	r = e.do("PUT", "/api/v1/notifications/templates/card_issue_approved", e.admin, apiv1.MailTemplateInput{Subject: "Approved {{.Card.Serial", Text: "x"})
	if r.status != 400 || !strings.Contains(r.problem().Detail, "subject template is not valid") {
		t.Errorf("invalid template: %d %s", r.status, r.body)
	}
	var tpl apiv1.MailTemplate
	e.must(200, "PUT", "/api/v1/notifications/templates/card_issue_approved", e.admin,
		apiv1.MailTemplateInput{Subject: "Approved: {{.Card.Serial}}", Text: "Go on, {{.User.Name}}."}).json(&tpl)
	if tpl.Default || tpl.Subject != "Approved: {{.Card.Serial}}" {
		t.Errorf("saved template %+v", tpl)
	}
	var tpls []*apiv1.MailTemplate
	e.must(200, "GET", "/api/v1/notifications/templates", e.admin, nil).json(&tpls)
	if len(tpls) != 33 {
		t.Errorf("%d templates, want 33", len(tpls))
	}
	if r := e.do("PUT", "/api/v1/notifications/templates/nope", e.admin, apiv1.MailTemplateInput{Subject: "a", Text: "b"}); r.status != 404 {
		t.Errorf("unknown kind: %d", r.status)
	}

	// The routes are in the OpenAPI document.
	doc := string(e.must(200, "GET", "/api/v1/openapi.json", "", nil).body)
	for _, p := range []string{"/api/v1/notifications/settings", "/api/v1/notifications/outbox/{id}/retry", "/api/v1/notifications/templates/{kind}"} {
		if !strings.Contains(doc, p) {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }
