package cardops_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// An update of a card whose Recover keys onto card was interrupted (its
// keys recorded, not yet all written) is refused until the recovery is
// finished: the update would write the card's key history over it.
func TestUpdateRefusedWhileRecoverKeysUnfinished(t *testing.T) {
	e := newRecoverKeysEnv(t)
	ctx := context.Background()
	id := e.secondCard.Card.ID
	e.interruptRecovery(t, id)
	_, err := e.svc.Cards.UpdateCard(ctx, e.operator(t, "olga"), cardops.UpdateCardInput{CardTarget: e.target(), CardID: id, Renew: []string{"secure-email"}})
	if !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(lanyard.ErrorMessage(err), "Recover keys onto card") {
		t.Fatalf("update with the key recovery unfinished: %v, want a conflict naming Recover keys onto card", err)
	}
}

// interruptRecovery pulls card id (alice's second card) during her
// Recover keys onto card at ever later points until one leaves the
// recovery unfinished; it returns the test of that.
func (e *recoverKeysEnv) interruptRecovery(t *testing.T, id int64) (interrupted func() bool) {
	t.Helper()
	ctx := context.Background()
	interrupted = func() bool {
		var ops []*lanyard.Operation
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
			ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: id, Kind: lanyard.OpRecoverKeys, Unfinished: true})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return len(ops) == 1
	}
	for n := 1; !interrupted(); n++ {
		if n > 200 {
			t.Fatal("no interruption point found")
		}
		e.clock.Add(identity.TOTPPeriod)
		e.access.LoseReplyAfter(2, secondReader, n)
		if _, err := e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, id, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: e.code(t)}); err == nil {
			t.Fatalf("the recovery finished with the card pulled after %d APDUs", n)
		}
	}
	return interrupted
}
