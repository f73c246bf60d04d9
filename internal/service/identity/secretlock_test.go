package identity_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// quiet is longer than the login throttle's window: after it, earlier
// failures no longer throttle (auth.DefaultLimits).
const quiet = 16 * time.Minute

// setAnswers gives p the answers rex, ghent, st. mary's to the first
// three default questions and returns them.
func setAnswers(t *testing.T, e *totpEnv, p *lanyard.Principal) []identity.SecretAnswerInput {
	t.Helper()
	q := identity.SecretQuestions
	in := []identity.SecretAnswerInput{{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: "St. Mary's"}}
	if _, err := e.svc.Identity.SetMySecretAnswers(context.Background(), p, identity.SecretAnswersInput{Answers: in}); err != nil {
		t.Fatal(err)
	}
	return in
}

func wrongAnswers(right []identity.SecretAnswerInput) []identity.SecretAnswerInput {
	out := slices.Clone(right)
	out[1].Answer = "Brussels"
	return out
}

// secretActions lists the secret answer and Remote Self-Service audit actions
// on login's account, in order.
func secretActions(t *testing.T, e *totpEnv, login string) []string {
	t.Helper()
	var out []string
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{ObjectType: "user", ObjectID: login, Limit: 1000})
		for _, ev := range evs {
			if (strings.HasPrefix(ev.Action, "user.secret") || strings.HasPrefix(ev.Action, "rss.")) && ev.Action != "user.create" {
				out = append(out, ev.Action)
			}
		}
		return err
	})
	return out
}

// TestSecretAnswersLockAfterWrong: the policy's wrong answers before
// lock (5 by default) in a row lock the answers for every use, right ones
// included, until an operator unlocks them; a right answer before that
// clears the count. Each failure and the lock are audited, never the
// answers.
func TestSecretAnswersLockAfterWrong(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	wrong := wrongAnswers(right)
	id := e.alice.User.ID
	check := func(in []identity.SecretAnswerInput) error {
		e.clock.Add(quiet) // the throttle is tested on its own
		return e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: id, Answers: in, RemoteAddr: "198.51.100.7"})
	}
	for i := range 4 {
		servicetest.WantErr(t, "wrong answers", check(wrong), lanyard.EForbidden, "do not match")
		if st := e.status(t, "alice"); st.Failures != i+1 || st.Locked {
			t.Fatalf("after %d wrong: %+v", i+1, st)
		}
	}
	if err := check(right); err != nil {
		t.Fatalf("right answers after 4 wrong: %v", err)
	}
	if st := e.status(t, "alice"); st.Failures != 0 || st.Locked {
		t.Fatalf("a right answer did not clear the count: %+v", st)
	}
	for range 4 {
		_ = check(wrong)
	}
	servicetest.WantErr(t, "the fifth wrong answer in a row", check(wrong), lanyard.EForbidden, "now locked")
	servicetest.WantErr(t, "right answers while locked", check(right), lanyard.EForbidden, "locked")
	if _, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, identity.SecretAnswersInput{Answers: right}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("new answers while locked: %v, want refused", err)
	}
	st := e.status(t, "alice")
	if !st.Locked || st.Failures != 5 || st.LockedAt.IsZero() {
		t.Fatalf("after 5 wrong: %+v, want locked", st)
	}
	// The password login is not locked.
	if _, err := e.svc.Identity.Login(ctx, "alice", totpPassword, "198.51.100.7"); err != nil {
		t.Errorf("password login of a user with locked answers: %v", err)
	}
	if _, err := e.svc.Identity.UnlockSecretAnswers(ctx, e.op, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := check(right); err != nil {
		t.Fatalf("right answers after unlock: %v", err)
	}
	// Each check is counted first (attempt), then settled.
	const try, fail, ok = "user.secret_answers.attempt", "user.secret_answers.fail", "user.secret_answers.ok"
	want := []string{"user.secret_questions", try, fail, try, fail, try, fail, try, fail,
		try, ok, try, fail, try, fail, try, fail, try, fail,
		try, "user.secret_answers.locked", "user.secret_answers.unlock", try, ok}
	if got := secretActions(t, e, "alice"); !slices.Equal(got, want) {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
}

// secretPolicy changes the secret questions of the default policy.
func (e *totpEnv) secretPolicy(t *testing.T, change func(*lanyard.SecretQuestionSettings)) {
	t.Helper()
	ctx := context.Background()
	pol, err := e.svc.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	change(&pol.Settings.Authentication.SecretQuestions)
	if _, err := e.svc.Catalog.UpdatePolicy(ctx, e.ad, "default", pol); err != nil {
		t.Fatal(err)
	}
}

// status is login's secret answer status as an administrator sees it.
func (e *totpEnv) status(t *testing.T, login string) *identity.SecretAnswersStatus {
	t.Helper()
	st, err := e.svc.Identity.SecretAnswersStatusOf(context.Background(), e.ad, login)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSecretAnswersThrottle: wrong answers count in the login throttle
// per account and per client address, as wrong passwords do: after five
// the account is refused at once, and so is another account from the same
// address, while the account from elsewhere waits for the lock only.
func TestSecretAnswersThrottle(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	bobRight := setAnswers(t, e, e.bob)
	wrong := wrongAnswers(right)
	const guesser = "203.0.113.9"
	// A policy that locks late, so that only the throttle stops guessing.
	e.secretPolicy(t, func(q *lanyard.SecretQuestionSettings) { q.WrongBeforeLock = 50 })
	for range 5 {
		servicetest.WantErr(t, "wrong answers", e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: wrong, RemoteAddr: guesser}),
			lanyard.EForbidden, "do not match")
	}
	err := e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: right, RemoteAddr: "192.0.2.200"})
	servicetest.WantErr(t, "alice from another address after 5 wrong", err, lanyard.ERateLimited, "too many wrong answers")
	err = e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.bob.User.ID, Answers: bobRight, RemoteAddr: guesser})
	servicetest.WantErr(t, "bob from the guessing address", err, lanyard.ERateLimited, "too many wrong answers")
	if err := e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.bob.User.ID, Answers: bobRight, RemoteAddr: "192.0.2.200"}); err != nil {
		t.Errorf("bob from elsewhere: %v", err)
	}
	if st := e.status(t, "alice"); st.Failures != 5 || st.Locked {
		t.Errorf("throttled attempts changed the count: %+v", st)
	}
	e.clock.Add(quiet)
	if err := e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: right, RemoteAddr: guesser}); err != nil {
		t.Errorf("after the throttle's window: %v", err)
	}
}

// TestSecretAnswersOperatorActions: operators reset and unlock plain
// users' answers; a staff account's only an administrator; nobody their
// own; auditors see the status and change nothing. A reset user must set
// new answers before any use.
func TestSecretAnswersOperatorActions(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	setAnswers(t, e, e.op)
	if _, err := e.svc.Identity.UnlockSecretAnswers(ctx, e.op, "alice"); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("unlocking answers that are not locked: %v, want a conflict", err)
	}
	before := e.snapshot(t)
	for name, call := range map[string]func() error{
		"operator resets an administrator": func() error { _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.op, e.ad.User.Login); return err },
		"operator unlocks an administrator": func() error {
			_, err := e.svc.Identity.UnlockSecretAnswers(ctx, e.op, e.ad.User.Login)
			return err
		},
		"operator resets their own": func() error { _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.op, "olivia"); return err },
		"auditor resets a user":     func() error { _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.auditor, "alice"); return err },
		"user resets another user":  func() error { _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.bob, "alice"); return err },
		"remote self-service resets": func() error {
			p := *e.alice
			p.RemoteSelfService = true
			_, err := e.svc.Identity.ResetSecretAnswers(ctx, &p, "bob")
			return err
		},
	} {
		if err := call(); !lanyard.IsCode(err, lanyard.EForbidden) {
			t.Errorf("%s: %v, want forbidden", name, err)
		}
	}
	if after := e.snapshot(t); after != before {
		t.Error("a refused reset or unlock changed the audit log")
	}
	if st, err := e.svc.Identity.SecretAnswersStatusOf(ctx, e.auditor, "alice"); err != nil || !st.Set || st.Answered != 3 {
		t.Errorf("auditor's view: %+v, %v", st, err)
	}
	if _, err := e.svc.Identity.SecretAnswersStatusOf(ctx, e.bob, "alice"); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("a user reads another's status: %v", err)
	}
	st, err := e.svc.Identity.ResetSecretAnswers(ctx, e.op, "alice")
	if err != nil || st.Set {
		t.Fatalf("reset: %+v, %v", st, err)
	}
	servicetest.WantErr(t, "answers after a reset", e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, right), lanyard.EConflict, "sets them in Self-Service")
	info, err := e.svc.Identity.MySecretQuestions(ctx, e.alice)
	if err != nil || info.Set {
		t.Errorf("Self-Service after a reset: %+v, %v", info, err)
	}
	// An administrator acts on staff accounts.
	if _, err := e.svc.Identity.ResetSecretAnswers(ctx, e.ad, "olivia"); err != nil {
		t.Errorf("administrator resets an operator: %v", err)
	}
	if got := secretActions(t, e, "alice"); !slices.Contains(got, "user.secret_answers.reset") {
		t.Errorf("no reset event: %q", got)
	}
}

// TestSecretQuestionsFromPolicy: the user's policy gives the questions,
// the number answered and asked, and the shortest answer.
func TestSecretQuestionsFromPolicy(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	mine := []string{"Name of the street you grew up in?", "Your first employer?"}
	e.secretPolicy(t, func(q *lanyard.SecretQuestionSettings) {
		*q = lanyard.SecretQuestionSettings{Questions: mine, Asked: 2, MinAnswerLength: 5, WrongBeforeLock: 3}
	})
	info, err := e.svc.Identity.MySecretQuestions(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Questions, mine) || info.Required != 2 || info.MinAnswerLength != 5 {
		t.Fatalf("offered: %+v", info)
	}
	set := func(in ...identity.SecretAnswerInput) error {
		_, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, identity.SecretAnswersInput{Answers: in})
		return err
	}
	servicetest.WantErr(t, "a question of the defaults", set(identity.SecretAnswerInput{Question: identity.SecretQuestions[0], Answer: "fluffy"}, identity.SecretAnswerInput{Question: mine[0], Answer: "elm street"}),
		lanyard.EInvalid, "not one of the offered questions")
	servicetest.WantErr(t, "one answer", set(identity.SecretAnswerInput{Question: mine[0], Answer: "elm street"}), lanyard.EInvalid, "answer 2 to 2")
	servicetest.WantErr(t, "a short answer", set(identity.SecretAnswerInput{Question: mine[0], Answer: "elm street"}, identity.SecretAnswerInput{Question: mine[1], Answer: "acme"}),
		lanyard.EInvalid, "5 to 200 characters")
	right := []identity.SecretAnswerInput{{Question: mine[0], Answer: "Elm Street"}, {Question: mine[1], Answer: "Acme Corp"}}
	if err := set(right...); err != nil {
		t.Fatal(err)
	}
	servicetest.WantErr(t, "one answer given", e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, right[:1]), lanyard.EInvalid, "answer 2")
	if err := e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, right); err != nil {
		t.Fatal(err)
	}
	// Three wrong in a row lock under this policy.
	wrong := []identity.SecretAnswerInput{right[0], {Question: mine[1], Answer: "Initech"}}
	for range 2 {
		_ = e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, wrong)
	}
	servicetest.WantErr(t, "third wrong", e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, wrong), lanyard.EForbidden, "now locked")
}

// TestRSSSignIn: Remote Self-Service asks the policy's number of the
// user's questions and opens a session of its own on the right answers;
// an unknown user gets plausible questions, the same each time, and the
// same refusal as wrong answers; a ticket binds the answers to the user
// and the questions asked; the session is no browser session.
func TestRSSSignIn(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	answer := map[string]string{}
	for _, a := range right {
		answer[a.Question] = a.Answer
	}
	q, err := e.svc.Identity.RSSQuestionsFor(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Questions) != 3 {
		t.Fatalf("asked %q, want 3 of alice's questions", q.Questions)
	}
	answers := func(qs []string, wrongOne bool) []identity.SecretAnswerInput {
		out := make([]identity.SecretAnswerInput, len(qs))
		for i, text := range qs {
			out[i] = identity.SecretAnswerInput{Question: text, Answer: answer[text]}
		}
		if wrongOne {
			out[0].Answer = "nope"
		}
		return out
	}
	// Unknown users: plausible questions, stable, and the same refusal.
	g1, err := e.svc.Identity.RSSQuestionsFor(ctx, "ghost")
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := e.svc.Identity.RSSQuestionsFor(ctx, "ghost")
	if len(g1.Questions) != 3 || !slices.Equal(g1.Questions, g2.Questions) {
		t.Errorf("unknown user's questions: %q then %q", g1.Questions, g2.Questions)
	}
	_, errGhost := e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "ghost", Ticket: g1.Ticket, Answers: answers(g1.Questions, true), RemoteAddr: "192.0.2.50"})
	_, errWrong := e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: q.Ticket, Answers: answers(q.Questions, true), RemoteAddr: "192.0.2.51"})
	if !lanyard.IsCode(errGhost, lanyard.EUnauthenticated) || errWrong == nil || errGhost.Error() != errWrong.Error() {
		t.Errorf("unknown user: %v; wrong answers: %v; want the same refusal", errGhost, errWrong)
	}
	// A ticket is for one user and its questions.
	_, err = e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "bob", Ticket: q.Ticket, Answers: answers(q.Questions, false)})
	servicetest.WantErr(t, "alice's ticket for bob", err, lanyard.EInvalid, "another user name")
	other := answers(q.Questions, false)
	other[0].Question = identity.SecretQuestions[3]
	_, err = e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: q.Ticket, Answers: other})
	servicetest.WantErr(t, "answers to other questions", err, lanyard.EInvalid, "answer each question asked")
	_, err = e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: q.Ticket + "x", Answers: answers(q.Questions, false)})
	servicetest.WantErr(t, "a forged ticket", err, lanyard.EInvalid, "expired")
	res, err := e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: q.Ticket, Answers: answers(q.Questions, false), RemoteAddr: "192.0.2.52"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Session.ExpiresAt.Sub(e.clock.Now()) != identity.RSSSessionTTL {
		t.Errorf("session lasts until %v", res.Session.ExpiresAt)
	}
	p, _, err := e.svc.Identity.AuthenticateRSS(ctx, res.SessionID, "192.0.2.52")
	if err != nil || !p.RemoteSelfService || !slices.Equal(p.Roles, lanyard.Roles{lanyard.RoleUser}) || p.User.Login != "alice" {
		t.Fatalf("RSS principal: %+v, %v", p, err)
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, res.SessionID, ""); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("an RSS session as a browser session: %v", err)
	}
	e.clock.Add(identity.RSSSessionTTL)
	if _, _, err := e.svc.Identity.AuthenticateRSS(ctx, res.SessionID, ""); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("an RSS session after 10 minutes: %v", err)
	}
	// An expired ticket.
	_, err = e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: "alice", Ticket: q.Ticket, Answers: answers(q.Questions, false)})
	servicetest.WantErr(t, "an expired ticket", err, lanyard.EInvalid, "expired")
	got := secretActions(t, e, "alice")
	if !slices.Contains(got, "rss.signin") || !slices.Contains(got, "rss.signin.fail") {
		t.Errorf("audit: %q", got)
	}
}
