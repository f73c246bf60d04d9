package cardops_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// A temporary AirCard made at this replica's AirCard service whose agent
// moves to another replica before the card is opened: the error is not
// one web forwards (which would replace the card again there and make a
// second AirCard), it names the AirCard made, which stays registered and
// clean for its owner (cards are never deleted), and the old card stays
// as it was.
func TestReplaceAirCardServiceMovedMidway(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
	})
	e.storeWorkstations(t, "pc-1", "air:aircard-service")
	orig, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	air := e.access.AddAirCardService(3)
	air.OpenErr = &lanyard.ElsewhereError{WorkstationID: 3, Replica: "0123456789abcdef"}
	_, err = e.svc.Cards.ReplaceCard(ctx, e.alice, orig.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
		CardTarget: cardops.CardTarget{WorkstationID: 1}, UserPIN: "13572468"})
	var elsewhere *lanyard.ElsewhereError
	if errors.As(err, &elsewhere) || !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Fatalf("replacement with the AirCard service moved: %v (%T), want unavailable and not forwardable", err, err)
	}
	if got := e.access.Destroyed(); len(got) != 0 {
		t.Errorf("AirCards removed at the service: %v, want none (its card row stays)", got)
	}
	replaceErr := err
	cards, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var made *cardops.CardView
	for _, c := range cards {
		if c.ID != orig.Card.ID {
			made = c
		}
	}
	if made == nil || made.State != lanyard.CardClean || made.Kind != lanyard.KindAirCard {
		t.Fatalf("the AirCard made: %+v, want one clean AirCard of alice's", made)
	}
	if !strings.Contains(replaceErr.Error(), made.Serial) {
		t.Errorf("the error does not name the AirCard made (%s): %v", made.Serial, replaceErr)
	}
	if old := e.cardOf(t, orig.Card.ID); old.State != lanyard.CardIssued {
		t.Errorf("old card %s, want issued (not replaced)", old.State)
	}
}

// Replace card with an AirCard bound to a workstation that is not
// connected, or not the caller's, is refused before the step-up (password
// and authenticator code) is checked and spent.
func TestReplaceAirCardWorkstationCheckedBeforeStepUp(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
	})
	e.storeWorkstations(t, "pc-1", "air:aircard-service")
	orig, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.access.AddAirCardService(3)
	e.access.AddWorkstation(4, e.alice.User.ID+1000, "pc-other")
	for _, ws := range []int64{99, 4} {
		_, err = e.svc.Cards.ReplaceCard(ctx, e.alice, orig.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
			CardTarget: cardops.CardTarget{WorkstationID: ws}, UserPIN: "13572468",
			Recovery: &cardops.HistoryAuthority{AccountPassword: "wrong password", Code: "000000"}})
		if !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("AirCard for workstation %d: %v, want not found before the step-up", ws, err)
		}
	}
}
