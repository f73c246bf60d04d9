//go:build integration

package web_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestRSSSignInAndLockNotices (issue 16 item 11, review M6) through a
// real SMTP server: a Remote Self-Service sign-in is mailed to the user,
// with the manager in copy under notify_manager; the lock that wrong
// answers set is mailed to the user (and manager) and to the operators;
// wrong answers that do not lock send nothing.
func TestRSSSignInAndLockNotices(t *testing.T) {
	smtp := mailpittest.MustEnv(t)
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := webtest.StartWith(t, st, webtest.Options{SMTPRootCAs: smtp.RootCAs(t)})
	e := &env{t: t, url: srv.URL, admin: srv.AdminToken, svc: srv.Service, store: st, srv: srv.Web}
	ctx := context.Background()
	_, port := mailpittest.HostPort(t, smtp.SMTP)
	e.must(200, "PUT", "/api/v1/notifications/settings", e.admin,
		apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: apiv1.SMTPNone, From: "lanyard@example.com"})

	// Addresses of this run only: mailpit is shared.
	tag := strings.ToLower(rand.Text()[:10])
	addr := func(who string) string { return who + "-" + tag + "@example.test" }
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "alice", "display_name": "Alice", "email": addr("alice"), "manager_email": addr("boss")})
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "olivia", "email": addr("olivia"), "roles": []string{"user", "operator"}})
	var pol map[string]any
	e.must(200, "GET", "/api/v1/policies/default", e.admin, nil).json(&pol)
	pol["settings"].(map[string]any)["notifications"] = map[string]any{"notify_user": true, "notify_manager": true}
	for _, k := range []string{"id", "created_at", "updated_at"} {
		delete(pol, k)
	}
	e.must(200, "PUT", "/api/v1/policies/default", e.admin, pol)

	var alice *lanyard.User
	if err := st.View(ctx, func(tx lanyard.Tx) (err error) { alice, err = tx.UserByLogin("alice"); return }); err != nil {
		t.Fatal(err)
	}
	q := identity.SecretQuestions
	right := []identity.SecretAnswerInput{{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: "Elm"}}
	if _, err := srv.Service.Identity.SetMySecretAnswers(ctx, &lanyard.Principal{User: alice, Roles: alice.Roles, Session: true}, identity.SecretAnswersInput{Answers: right}); err != nil {
		t.Fatal(err)
	}
	signIn := func(answer func(string) string) error {
		qs, err := srv.Service.Identity.RSSQuestionsFor(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		in := make([]identity.SecretAnswerInput, len(qs.Questions))
		for i, text := range qs.Questions {
			in[i] = identity.SecretAnswerInput{Question: text, Answer: answer(text)}
		}
		_, err = srv.Service.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: qs.Ticket, Answers: in, RemoteAddr: "198.51.100.44"})
		return err
	}
	rightOf := func(text string) string {
		return right[slices.IndexFunc(right, func(a identity.SecretAnswerInput) bool { return a.Question == text })].Answer
	}
	if err := signIn(rightOf); err != nil {
		t.Fatal(err)
	}
	got := deliver(t, srv, smtp.API, addr("alice"), 1)
	if m := got[0]; !strings.Contains(m.Subject, "Remote Self-Service sign-in") || !strings.Contains(m.Text, "198.51.100.44") ||
		!slices.Equal(m.Recipients(), []string{addr("alice"), addr("boss")}) {
		t.Errorf("sign-in notice: %q to %v:\n%s", m.Subject, m.Recipients(), m.Text)
	}

	// Four wrong sign-ins send nothing; the fifth locks, and says so.
	for i := range 5 {
		if err := signIn(func(string) string { return "wrong" }); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
			t.Fatalf("wrong sign-in %d: %v", i+1, err)
		}
	}
	got = deliver(t, srv, smtp.API, addr("alice"), 2)
	if len(got) != 2 || !strings.Contains(got[1].Subject, "secret answers are locked") || !slices.Equal(got[1].Recipients(), []string{addr("alice"), addr("boss")}) {
		t.Errorf("after the lock alice has %d messages; the last: %q to %v", len(got), got[len(got)-1].Subject, got[len(got)-1].Recipients())
	}
	ops := deliver(t, srv, smtp.API, addr("olivia"), 1)
	if m := ops[0]; !strings.Contains(m.Subject, "Secret answers of alice locked") || !strings.Contains(m.Text, "secret-answers unlock alice") {
		t.Errorf("operators' notice: %q\n%s", m.Subject, m.Text)
	}
}

// deliver runs the outbox until n messages to rcpt have arrived (a lock's
// notices are queued apart from the answer) and returns them.
func deliver(t *testing.T, srv *webtest.Server, api, rcpt string, n int) []*mailpittest.Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := srv.Mailer.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := mailpittest.Find(t, api, rcpt)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages to %s after 10 s, want %d", len(got), rcpt, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
