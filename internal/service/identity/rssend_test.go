package identity_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// rssSignIn signs in to Remote Self-Service as p with the answers right
// and returns the session's cookie secret.
func rssSignIn(t *testing.T, e *totpEnv, p *lanyard.Principal, right []identity.SecretAnswerInput) string {
	t.Helper()
	ctx := context.Background()
	q, err := e.svc.Identity.RSSQuestionsFor(ctx, p.User.Login)
	if err != nil {
		t.Fatal(err)
	}
	answer := map[string]string{}
	for _, a := range right {
		answer[a.Question] = a.Answer
	}
	in := make([]identity.SecretAnswerInput, len(q.Questions))
	for i, text := range q.Questions {
		in[i] = identity.SecretAnswerInput{Question: text, Answer: answer[text]}
	}
	res, err := e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: p.User.Login, Ticket: q.Ticket, Answers: in, RemoteAddr: "192.0.2.60"})
	if err != nil {
		t.Fatal(err)
	}
	return res.SessionID
}

// TestRSSSessionsEndOnResetAndLock: an operator's reset of a user's
// answers, and the lock that wrong answers set, end the user's live
// Remote Self-Service sessions in the same transaction (review L4): a
// session opened before does not come back after new answers or an
// unlock. Browser sessions are not touched.
func TestRSSSessionsEndOnResetAndLock(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	alive := func(id string) bool {
		_, _, err := e.svc.Identity.AuthenticateRSS(ctx, id, "192.0.2.60")
		return err == nil
	}
	login, err := e.svc.Identity.Login(ctx, "alice", totpPassword, "192.0.2.61")
	if err != nil {
		t.Fatal(err)
	}
	first := rssSignIn(t, e, e.alice, right)
	if !alive(first) {
		t.Fatal("a new RSS session does not authenticate")
	}
	if _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.op, "alice"); err != nil {
		t.Fatal(err)
	}
	if alive(first) {
		t.Error("an RSS session outlived the reset of the answers it was opened with")
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, login.SessionID, "192.0.2.61"); err != nil {
		t.Errorf("the browser session after a reset of the answers: %v", err)
	}

	right = setAnswers(t, e, e.alice)
	second := rssSignIn(t, e, e.alice, right)
	wrong := wrongAnswers(right)
	for range 5 { // within the session's 10 minutes, and the throttle's five
		_ = e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: wrong, RemoteAddr: "203.0.113.5"})
	}
	if st := e.status(t, "alice"); !st.Locked {
		t.Fatalf("five wrong answers did not lock: %+v", st)
	}
	if _, err := e.svc.Identity.UnlockSecretAnswers(ctx, e.op, "alice"); err != nil {
		t.Fatal(err)
	}
	if alive(second) {
		t.Error("an RSS session came back after the lock and the unlock")
	}
}
