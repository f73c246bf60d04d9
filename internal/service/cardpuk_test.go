package service_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
)

// TestIssuedCardKeepsNoSharedPUK (issue 13, item 5): after Issue card the
// card refuses the card type's default PUK 12345678 (which would let
// anyone holding it reset the PIN) and holds its own random PUK, sealed
// on the server. Revoke and clear resets the PIN with that PUK, and the
// next issue replaces it with a new one.
func TestIssuedCardKeepsNoSharedPUK(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.IssueCard(ctx, e.alice, service.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pivOf(t, e.card).UnblockPIN(ctx, piv.DefaultPUK, "654321"); err == nil {
		t.Fatal("the issued card resets its PIN with the default PUK")
	}
	e.checkOwnPUK(t, e.card, res.Card.ID)
	first, _ := e.svc.CardPUK(ctx, res.Card.ID)

	if _, err := e.svc.RevokeAndClearCard(ctx, e.admin, res.Card.ID, service.ClearInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	if err := pivOf(t, e.card).VerifyPIN(ctx, piv.DefaultPIN); err != nil {
		t.Fatalf("the PIN after clearing: %v", err)
	}
	v, err := e.svc.GetCard(ctx, e.admin, res.Card.ID)
	if err != nil || v.State != lanyard.CardClean || v.PUKState != lanyard.PUKRandom {
		t.Fatalf("after clearing: %v %+v", err, v)
	}
	checkPUK(t, e.card, first)

	res, err = e.svc.IssueCard(ctx, e.alice, service.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkOwnPUK(t, e.card, res.Card.ID)
	if second, _ := e.svc.CardPUK(ctx, res.Card.ID); second == first {
		t.Fatal("the next issue kept the card's PUK")
	}
}
