package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestRSSBusySameWork: while the hashing is busy, a Remote Self-Service
// sign-in as a real user and one as an unknown name both commit twice
// (the attempt, then its return) before answering 503, so a loaded
// server tells no name from another (review of the fixes, 4: the unknown
// name committed once).
func TestRSSBusySameWork(t *testing.T) {
	e, cs := newCountingEnv(t)
	setAnswers(t, e, e.alice)
	release, err := auth.HoldHashing(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	work := map[string]int64{}
	for i, login := range []string{"alice", "ghost"} {
		q, err := e.svc.Identity.RSSQuestionsFor(t.Context(), login)
		if err != nil {
			t.Fatal(err)
		}
		in := make([]identity.SecretAnswerInput, len(q.Questions))
		for j, text := range q.Questions {
			in[j] = identity.SecretAnswerInput{Question: text, Answer: "whatever it is"}
		}
		before := cs.updates.Load()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: login, Ticket: q.Ticket, Answers: in, RemoteAddr: "192.0.2." + string(rune('1'+i))})
			done <- err
		}()
		// The attempt is committed before the answers wait for a hashing
		// slot; the caller then goes away.
		for deadline := time.Now().Add(20 * time.Second); cs.updates.Load() == before; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no attempt committed", login)
			}
		}
		cancel()
		if err := <-done; !lanyard.IsCode(err, lanyard.EUnavailable) {
			t.Fatalf("%s while the hashing is busy: %v, want unavailable", login, err)
		}
		work[login] = cs.updates.Load() - before
	}
	if work["alice"] != work["ghost"] || work["alice"] != 2 {
		t.Errorf("read-write transactions while busy: %v, want 2 for each", work)
	}
}
