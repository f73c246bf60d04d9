package identity_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestSecretAnswersParallelWrongSQLite: parallel wrong answers never get
// more verifications than the policy's wrong answers before lock (review
// L3); secretrace_pg_test.go runs the same on PostgreSQL.
func TestSecretAnswersParallelWrongSQLite(t *testing.T) {
	parallelWrongAnswers(t, newTOTPEnv(t))
}

// parallelWrongAnswers sends five wrong answers for alice at once, from
// five addresses (the login throttle lets five in at a time), under a
// policy that locks after two. Counting after the verification let all
// five be verified and counted; counting first lets two be verified and
// refuses the others as locked, unverified and uncounted.
func parallelWrongAnswers(t *testing.T, e *totpEnv) {
	ctx := context.Background()
	right := setAnswers(t, e, e.alice)
	wrong := wrongAnswers(right)
	const limit, n = 2, 5
	e.secretPolicy(t, func(q *lanyard.SecretQuestionSettings) { q.WrongBeforeLock = limit })
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = e.svc.Identity.CheckAnswers(ctx, identity.SecretCheck{UserID: e.alice.User.ID, Answers: wrong, RemoteAddr: fmt.Sprintf("198.51.100.%d", i+1)})
		})
	}
	close(start)
	wg.Wait()
	verified := 0
	for i, err := range errs {
		switch {
		case lanyard.IsCode(err, lanyard.EForbidden) && strings.Contains(err.Error(), "do not match"):
			verified++
		case lanyard.IsCode(err, lanyard.EForbidden) && strings.Contains(err.Error(), "locked"):
		default:
			t.Errorf("guess %d: %v, want refused", i, err)
		}
	}
	st := e.status(t, "alice")
	if verified > limit || st.Failures != limit || !st.Locked {
		t.Errorf("%d parallel wrong answers: %d verified, status %+v; want at most %d verified, %d counted, locked", n, verified, st, limit, limit)
	}
	servicetest.WantErr(t, "right answers after the lock", e.svc.Identity.CheckSecretAnswers(ctx, e.alice.User.ID, right), lanyard.EForbidden, "locked")
}
