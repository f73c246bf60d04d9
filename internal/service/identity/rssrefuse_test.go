package identity_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// countingStore counts the read-write transactions the service runs.
type countingStore struct {
	lanyard.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

// newCountingEnv is newTOTPEnv with its store's read-write transactions
// counted.
func newCountingEnv(t *testing.T) (*totpEnv, *countingStore) {
	var cs *countingStore
	e := newTOTPEnvWith(t, servicetest.Options{WrapStore: func(st lanyard.Store) lanyard.Store {
		cs = &countingStore{Store: st}
		return cs
	}})
	return e, cs
}

// rssTry signs in to Remote Self-Service as login from addr, giving
// answer to every question asked.
func rssTry(t *testing.T, e *totpEnv, login, addr, answer string) error {
	t.Helper()
	ctx := context.Background()
	q, err := e.svc.Identity.RSSQuestionsFor(ctx, login)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]identity.SecretAnswerInput, len(q.Questions))
	for i, text := range q.Questions {
		in[i] = identity.SecretAnswerInput{Question: text, Answer: answer}
	}
	_, err = e.svc.Identity.RSSSignIn(ctx, identity.RSSSignInInput{Login: login, Ticket: q.Ticket, Answers: in, RemoteAddr: addr})
	return err
}

// TestRSSRefusalsSameWork: a Remote Self-Service sign-in refused for an
// unknown name, for a user without answers and for a user's wrong
// answers runs the same number of read-write transactions, leaves the
// same audit events on the name and is throttled alike (review L5: a
// known name cost one commit an unknown one did not, and the time told
// them apart).
func TestRSSRefusalsSameWork(t *testing.T) {
	e, cs := newCountingEnv(t)
	setAnswers(t, e, e.alice) // bob has none; ghost does not exist
	refuse := func(login, addr string) error { return rssTry(t, e, login, addr, "certainly wrong") }
	for _, login := range []string{"alice", "bob", "ghost"} {
		_ = refuse(login, "192.0.2.99") // makes the decoy key, once
	}
	e.clock.Add(quiet)
	work := map[string]int64{}
	for i, login := range []string{"alice", "bob", "ghost"} {
		before := cs.updates.Load()
		err := refuse(login, fmt.Sprintf("198.51.100.%d", 20+i))
		servicetest.WantErr(t, login, err, lanyard.EUnauthenticated, "the user name or the answers are wrong")
		work[login] = cs.updates.Load() - before
	}
	if work["alice"] != work["bob"] || work["bob"] != work["ghost"] {
		t.Errorf("read-write transactions per refusal: %v, want the same for all", work)
	}
	want := []string{"rss.signin.attempt", "rss.signin.fail", "rss.signin.attempt", "rss.signin.fail"}
	for _, login := range []string{"alice", "bob", "ghost"} {
		got := slices.DeleteFunc(secretActions(t, e, login), func(a string) bool { return !strings.HasPrefix(a, "rss.") })
		if !slices.Equal(got, want) {
			t.Errorf("audit of %s: %q, want %q", login, got, want)
		}
	}
	// The throttle counts each the same: four more from one address,
	// and the fifth of the window is refused at once.
	e.clock.Add(quiet)
	for i, login := range []string{"bob", "ghost"} {
		addr := fmt.Sprintf("203.0.113.%d", 30+i)
		for range 5 {
			_ = refuse(login, addr)
		}
		servicetest.WantErr(t, login+" after five refusals", refuse(login, addr), lanyard.ERateLimited, "too many wrong answers")
	}
}
