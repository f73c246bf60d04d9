package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// Alice issues a spare card with her step-up as the authority to put her
// earlier keys on it; the issue is interrupted. Operator olga, who has no
// key recovery request, continues it with a PIN she chooses: she must not
// get a card with alice's earlier keys on her step-up. Before the keys are
// chosen her continue drops the grant (no key.recover); after, it is
// refused, and alice can still finish it. The issue is interrupted at
// each APDU in turn until both cases were seen, a sequential sweep like
// the Test…Anywhere ones, so `make unit` runs it with them, without the
// race detector (Makefile).
func TestContinueDoesNotRideAnotherActorsRecoveryAuthorityAnywhere(t *testing.T) {
	ctx := context.Background()
	dropped, refused := false, false
	for n := 1; n < 400 && !(dropped && refused); n++ {
		e := newStepUpEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 0 })
		target := e.second(t)
		e.access.LoseReplyAfter(2, secondReader, n)
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, Templates: []string{"secure-email"}, UserPIN: "13572468", Recovery: e.stepUp(t)})
		if err == nil {
			t.Fatalf("n=%d: the issue was not interrupted", n)
		}
		var op *lanyard.Operation
		storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
			ops, err := tx.ListOperations(lanyard.OperationFilter{Kind: lanyard.OpIssue, Unfinished: true})
			if err == nil && len(ops) > 0 {
				op = ops[0]
			}
			return err
		})
		if op == nil || op.Step == "" {
			continue
		}
		before := len(e.recoveries(t, op.CardID))
		olga := e.operator(t, "olga")
		_, err = e.svc.Cards.ContinueCardIssue(ctx, olga, op.CardID, cardops.ContinueInput{CardTarget: target, UserPIN: "99887766"})
		switch {
		case lanyard.IsCode(err, lanyard.EForbidden):
			if before == 0 {
				t.Fatalf("n=%d: olga refused before any recovery was recorded: %v", n, err)
			}
			if _, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, op.CardID, cardops.ContinueInput{CardTarget: target, UserPIN: "13572468"}); err != nil {
				t.Fatalf("n=%d: alice's continue after olga was refused: %v", n, err)
			}
			refused = true
		case err != nil:
			t.Fatalf("n=%d: olga's continue: %v", n, err)
		default:
			if got := len(e.recoveries(t, op.CardID)); got != before || before != 0 {
				t.Fatalf("n=%d (step %s): olga's continue of alice's issue put her earlier keys on the card (%d key.recover events)", n, op.Step, got)
			}
			dropped = true
		}
	}
	if !dropped || !refused {
		t.Fatalf("interruptions seen: before the keys were chosen %v, after %v; want both", dropped, refused)
	}
}
