package agent

import (
	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// The server tells the agent the state of each card Lanyard knows when
// it arrives (agentproto.TypeCardState); the agent keeps the last one per
// serial while the card is in a reader, logs a card that cannot be used,
// and shows it in its status (lanyard agent status), so that the person
// at the workstation learns why the card no longer works.

// cardState records what the server said of a card's state.
func (inv *inventory) cardState(st *agentproto.CardState) {
	inv.mu.Lock()
	inv.states[st.Serial] = *st
	inv.mu.Unlock()
	if Unusable(st.State) {
		inv.log.Warn("the card in a reader is "+st.State+" by the server: it cannot be used; ask your help desk", "serial", st.Serial, "reason", st.Reason)
	}
}

// cardStates returns the states the server gave of the cards present
// now, in reader order.
func (inv *inventory) cardStates(readers []agentproto.Reader) []agentproto.CardState {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var out []agentproto.CardState
	for _, r := range readers {
		if st, ok := inv.states[r.Serial]; ok && r.Present && r.Serial != "" {
			out = append(out, st)
		}
	}
	return out
}

// Unusable reports that a card in state (a card state of internal/
// lanyard) cannot be used: disabled (its certificates on hold) or
// revoked.
func Unusable(state string) bool { return state == "disabled" || state == "revoked" }
