package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The automatic update on connect updates the card the arrival named and
// no other: here the workstation reports card X (alice's, due, tied to
// the workstation, its policy updating on connect) while the reader holds
// card Y (alice's issued card, due as well). The update refuses, and Y
// keeps its certificates, no update recorded on it.
func TestUpdateCardAutomaticallyOnlyTheArrivedCard(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
	y := e.view(t)
	x := &lanyard.Card{Serial: "X-ARRIVED", CardType: y.CardType, OwnerID: e.alice.User.ID, State: lanyard.CardIssued, WorkstationID: 1,
		CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now(), IssuedAt: e.clock.Now()}
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCard(x) }); err != nil {
		t.Fatal(err)
	}
	a := e.arrival(t)
	a.Reader.Serial = x.Serial
	ran, err := e.svc.Cards.AutoUpdateNow(ctx, a)
	if !ran {
		t.Fatal("card X, due, was not updated automatically")
	}
	wantCode(t, err, lanyard.EConflict)
	v := e.view(t)
	if v.Update == nil || v.Update.Unfinished != nil || !v.Update.Due {
		t.Fatalf("card Y after X's automatic update: %+v, want untouched (still due, no update)", v.Update)
	}
	e.checkOldPairs(t, 0)
	for slot, old := range e.old {
		if c := e.cert(t, old.Serial); c.Status != lanyard.CertWritten {
			t.Fatalf("card Y's certificate of %s is %s, want written", slot, c.Status)
		}
	}
	if n := e.audit(t, "card.update.start", formatID(e.cardID)); n != 0 {
		t.Fatalf("%d updates started on card Y", n)
	}
}

// The automatic update checks the policy's switch again on the card it
// reads: decided while the switch was on, the job runs after the
// administrator turned it off (it waited in the queue), and is refused;
// the card keeps its certificates.
func TestUpdateCardAutomaticallyRechecksThePolicy(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
	a := e.arrival(t)
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = false })
	_, err := e.svc.Cards.RunAutoUpdateDecided(ctx, a, e.cardID)
	wantCode(t, err, lanyard.EForbidden)
	if v := e.view(t); v.Update == nil || v.Update.Unfinished != nil || !v.Update.Due {
		t.Fatalf("card after the refused automatic update: %+v, want untouched", v.Update)
	}
	e.checkOldPairs(t, 0)
}
