package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINRules are the PIN rules of the cards ws's command line may set a PIN
// on: its owner's issued cards and those last seen there
// (cardops.PINRulesAt). A workstation without an owner gets those last
// seen there only.
func (a AgentUnblock) PINRules(ctx context.Context, ws *lanyard.Workstation) (*agentproto.PINRules, error) {
	rules, err := a.s.Cards.PINRulesAt(ctx, ws.ID, ws.OwnerID)
	if err != nil {
		return nil, err
	}
	out := &agentproto.PINRules{Cards: []agentproto.CardPINRule{}}
	for _, r := range rules {
		out.Cards = append(out.Cards, agentproto.CardPINRule{Serial: r.Serial, CardType: r.CardType, MinLength: r.MinLength, MaxLength: r.MaxLength, Owned: r.Owned})
	}
	return out, nil
}
