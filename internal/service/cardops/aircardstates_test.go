package cardops_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Disabling, enabling and revoking an AirCard tell the agents of the
// computers it is connected to: the list they get (AirCardsFor) holds
// only usable AirCards, so a disabled or revoked one leaves their
// readers and an enabled one comes back. Left there, a revoked AirCard
// stayed listed at the computer, where no session may be opened on it,
// and clearing it from there failed.
func TestAirCardStateTellsComputers(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
	})
	e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")
	e.access.AddAirCardService(3)
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindAirCard, Name: "Air"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: cc.Reader}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Card.ID
	e.access.Changed()
	steps := []struct {
		name   string
		do     func() (*cardops.CardView, error)
		listed bool
	}{
		{"disable", func() (*cardops.CardView, error) { return e.svc.Cards.DisableCard(ctx, e.alice, id) }, false},
		{"enable", func() (*cardops.CardView, error) { return e.svc.Cards.EnableCard(ctx, e.alice, id) }, true},
		{"revoke", func() (*cardops.CardView, error) {
			return e.svc.Cards.RevokeCard(ctx, e.alice, id, cardops.RevokeCardInput{Reason: lanyard.CardLost})
		}, false},
	}
	for _, st := range steps {
		if _, err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := e.access.Changed(); !slices.Equal(got, []int64{1}) {
			t.Errorf("after %s the workstations told are %v, want [1]", st.name, got)
		}
		list, err := e.svc.Workstations.AirCardsFor(ctx, 1)
		if err != nil || (len(list) == 1) != st.listed {
			t.Errorf("after %s workstation 1's AirCards are %v (%v), want listed %v", st.name, list, err, st.listed)
		}
	}
}
