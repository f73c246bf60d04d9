package cardtest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// ToldState is a card state the service told a workstation's agent
// (TellCardState).
type ToldState struct {
	WorkstationID int64
	Serial        string
	State         lanyard.CardState
}

// TellCardState records what the service tells a workstation's agent of
// a card in its readers, as the agent hub sends it (cardops'
// cardStateTeller), for tests to check (Told).
func (a *Access) TellCardState(wsID int64, card *lanyard.Card) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.told = append(a.told, ToldState{WorkstationID: wsID, Serial: card.Serial, State: card.State})
}

// Told returns and forgets the card states told so far, in order.
func (a *Access) Told() []ToldState {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.told
	a.told = nil
	return out
}
