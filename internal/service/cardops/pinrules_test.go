package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// TestPINRulesAt (review L6): a workstation gets the PIN rules of its
// owner's issued cards and of those last seen there, as the owner's
// policy sets them (the card type's, narrowed by the policy's
// initialization settings); another workstation gets none of them.
// Only the owner's cards are marked Owned (their PUK escrow is accepted).
func TestPINRulesAt(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	want := func(name string, got []cardops.PINRule, lo, hi int) {
		t.Helper()
		if len(got) != 1 || got[0].Serial != res.Card.Serial || got[0].MinLength != lo || got[0].MaxLength != hi {
			t.Errorf("%s: %+v, want card %s with %d to %d", name, got, res.Card.Serial, lo, hi)
		}
	}
	byOwner, err := e.svc.Cards.PINRulesAt(ctx, 999, e.alice.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	want("the owner's", byOwner, 6, 8)
	if !byOwner[0].Owned {
		t.Error("the owner's card is not listed as the workstation owner's (its PUK escrow is accepted)")
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.InitializeCard = true
		s.Issuance.Initialization.PINMinLength, s.Issuance.Initialization.PINMaxLength = 8, 8
	})
	seen, err := e.svc.Cards.PINRulesAt(ctx, e.target().WorkstationID, 0)
	if err != nil {
		t.Fatal(err)
	}
	want("last seen at the workstation, under the narrowed policy", seen, 8, 8)
	if seen[0].Owned {
		t.Error("a card last seen at a workstation without an owner is listed as its owner's")
	}
	if other, err := e.svc.Cards.PINRulesAt(ctx, 999, 0); err != nil || len(other) != 0 {
		t.Errorf("another workstation without an owner: %+v, %v", other, err)
	}
}
