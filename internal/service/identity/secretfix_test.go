package identity_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestSecretAnswersTooLongNotCounted: an answer longer than any answer
// can be is bad input, refused before anything is counted, for
// CheckAnswers and for a Remote Self-Service sign-in, known name or not.
// Before, an answer over auth.MaxPasswordInput failed its hashing after
// the attempt was counted: five such tries locked the account, with no
// wrong answer recorded, no lock event and no notice.
func TestSecretAnswersTooLongNotCounted(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	long := slices.Clone(right)
	long[0].Answer = strings.Repeat("x", auth.MaxPasswordInput+1)
	for i := range 7 {
		err := e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: long, RemoteAddr: fmt.Sprintf("198.51.100.%d", i+1)})
		servicetest.WantErr(t, "a too long answer", err, lanyard.EInvalid, "longer than")
	}
	for _, login := range []string{"alice", "ghost"} {
		err := rssTry(t, e, login, "192.0.2.7", strings.Repeat("y", auth.MaxPasswordInput+1))
		servicetest.WantErr(t, "RSS sign-in as "+login+" with a too long answer", err, lanyard.EInvalid, "longer than")
	}
	if st := e.status(t, "alice"); st.Failures != 0 || st.Locked {
		t.Errorf("after too long answers: %+v, want nothing counted", st)
	}
	if got := secretActions(t, e, "alice"); !slices.Equal(got, []string{"user.secret_questions"}) {
		t.Errorf("audit after too long answers: %q, want only the answers set", got)
	}
	if err := e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, right); err != nil {
		t.Errorf("right answers after too long ones: %v", err)
	}
}

// TestSecretAnswersBusyGivenBack: answers that cannot be verified
// because the hashing is busy are given back, not counted as wrong: the
// check answers EUnavailable, the count and the lock this attempt set
// are taken back (user.secret_answers.attempt_returned), and the right
// answers work once the server has room. Before, the reserved attempt
// stayed counted: under a policy locking after one wrong answer, a right
// answer under load locked the account. TestSecretAnswersBusyGivenBackPostgres
// (secretrace_pg_test.go) runs it on PostgreSQL.
func TestSecretAnswersBusyGivenBack(t *testing.T) {
	busyGivenBack(t, newTOTPEnv(t))
}

func busyGivenBack(t *testing.T, e *totpEnv) {
	right := setAnswers(t, e, e.alice)
	e.secretPolicy(t, func(q *lanyard.SecretQuestionSettings) { q.WrongBeforeLock = 1 })
	release, err := auth.HoldHashing(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: right, RemoteAddr: "198.51.100.9"})
	}()
	// The attempt is reserved (and locks, at the policy's one) before
	// the answers wait for a hashing slot; the caller then goes away.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if st := e.status(t, "alice"); st.Failures == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the attempt was never reserved")
		}
	}
	cancel()
	servicetest.WantErr(t, "right answers while the hashing is busy", <-done, lanyard.EUnavailable, "try again")
	release()
	if st := e.status(t, "alice"); st.Failures != 0 || st.Locked {
		t.Errorf("after a check the server could not do: %+v, want nothing counted, not locked", st)
	}
	want := []string{"user.secret_questions", "user.secret_answers.attempt", "user.secret_answers.attempt_returned"}
	if got := secretActions(t, e, "alice"); !slices.Equal(got, want) {
		t.Errorf("audit: %q, want %q", got, want)
	}
	if err := e.svc.Identity.CheckSecretAnswers(t.Context(), e.alice.User.ID, right); err != nil {
		t.Errorf("right answers once the server has room: %v", err)
	}
}

// TestRSSFewerAnswersSameWork: a user with fewer answers than the policy
// now asks is refused in Remote Self-Service after the same work as an
// unknown name (refuseRSS): the same read-write transactions and audit
// events. Before, that refusal came at once, without hashing or commits,
// and its speed told the name was real.
func TestRSSFewerAnswersSameWork(t *testing.T) {
	e, cs := newCountingEnv(t)
	setAnswers(t, e, e.alice) // three answers
	e.secretPolicy(t, func(q *lanyard.SecretQuestionSettings) { q.Asked = 4 })
	refuse := func(login string) error { return rssTry(t, e, login, "198.51.100.40", "certainly wrong") }
	_ = refuse("ghost") // makes the decoy key, once
	work := map[string]int64{}
	for _, login := range []string{"alice", "ghost"} {
		before := cs.updates.Load()
		servicetest.WantErr(t, login, refuse(login), lanyard.EUnauthenticated, "the user name or the answers are wrong")
		work[login] = cs.updates.Load() - before
	}
	if work["alice"] != work["ghost"] {
		t.Errorf("read-write transactions per refusal: %v, want the same", work)
	}
	got := slices.DeleteFunc(secretActions(t, e, "alice"), func(a string) bool { return !strings.HasPrefix(a, "rss.") })
	if want := []string{"rss.signin.attempt", "rss.signin.fail"}; !slices.Equal(got, want) {
		t.Errorf("audit of alice: %q, want %q", got, want)
	}
}

// TestRSSSessionsEndOnOwnAnswers: a user setting new answers ends their
// Remote Self-Service sessions in the same transaction, as an
// operator's reset does: the sign-in notice tells the user to change
// their answers, and an intruder's session must not outlive that.
func TestRSSSessionsEndOnOwnAnswers(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	id := rssSignIn(t, e, e.alice, right)
	setAnswers(t, e, e.alice)
	if _, _, err := e.svc.Identity.AuthenticateRSS(ctx, id, "192.0.2.60"); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("an RSS session after the user set new answers: %v, want ended", err)
	}
}
