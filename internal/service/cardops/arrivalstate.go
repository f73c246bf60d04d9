package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// cardStateTeller is the part of the card access (the agent hub's) that
// tells a workstation's agent the state of a card that arrived in its
// readers (issue 16 item 7: "the agent reports a disabled card when it is
// connected"). Card access without it tells nothing.
type cardStateTeller interface {
	TellCardState(wsID int64, card *lanyard.Card)
}

// tellCardState tells the agent of workstation wsID the state of the
// card with serial that arrived there, when Lanyard knows the card and
// it is tied to the workstation (cardTiedTo); the agent shows a disabled
// or revoked one to the person at the workstation (lanyard agent
// status). Any other workstation learns nothing: a serial is all an
// agent needs to claim a card, and a card's state and revocation reason
// are its owner's business.
func (s *Cards) tellCardState(ctx context.Context, wsID int64, serial string) {
	s.tellCard(ctx, wsID, serial, "")
}

// tellCardUpdating tells the agent of workstation wsID, as tellCardState
// does, that the card with serial is being updated
// (agentproto.CardStateUpdating).
func (s *Cards) tellCardUpdating(ctx context.Context, wsID int64, serial string) {
	s.tellCard(ctx, wsID, serial, agentproto.CardStateUpdating)
}

// tellCard tells the card's state, or state instead when not "".
func (s *Cards) tellCard(ctx context.Context, wsID int64, serial string, state lanyard.CardState) {
	teller, ok := s.cards.(cardStateTeller)
	if !ok {
		return
	}
	var card *lanyard.Card
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { card, err = s.tiedCardBySerial(tx, wsID, serial); return }); err != nil {
		s.log.Warn("reading the state of an arrived card failed", "workstation", wsID, "serial", serial, "err", err)
		return
	}
	if card == nil {
		return
	}
	if state != "" {
		c := *card
		c.State, c.RevocationReason = state, ""
		card = &c
	}
	teller.TellCardState(wsID, card)
}
