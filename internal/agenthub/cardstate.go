package agenthub

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TellCardState tells the agent of workstation wsID the state of card,
// which arrived in one of its readers (agentproto.TypeCardState), so that
// the person there learns from the agent that it is disabled or revoked.
// An agent that does not take the message (older than FeatureCardState)
// or is gone is told nothing: the console says it anyway. It never
// waits: the message has no reply.
func (a cardAccess) TellCardState(wsID int64, card *lanyard.Card) {
	c := a.h.live(wsID)
	if c == nil {
		return
	}
	c.mu.Lock()
	can := slices.Contains(c.features, agentproto.FeatureCardState)
	c.mu.Unlock()
	if can {
		_ = c.pc.Send(&agentproto.Message{Type: agentproto.TypeCardState, CardState: wireCardState(card)})
	}
}

// wireCardState is card's state as a cardstate message carries it.
func wireCardState(card *lanyard.Card) *agentproto.CardState {
	return &agentproto.CardState{Serial: card.Serial, State: string(card.State), Reason: string(card.RevocationReason)}
}
