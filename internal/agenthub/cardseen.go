package agenthub

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card that arrives in a reader is the moment the server can finish
// what an earlier issue left undone: a card issued before cards got their
// own PUK still holds the card type's shared one, which the card
// workflows replace (issue 13). The hub hands arrivals over through a
// bounded queue (Arrivals): the connection's goroutine never waits on the
// database or the card, and when an AirCard service reports thousands of
// cards at once the overflow is dropped, those cards being handled at
// their next arrival.

// arrivalQueue bounds the arrivals waiting.
const arrivalQueue = 256

// Arrivals is the queue of cards that arrived in readers of the
// workstations connected here, for the card workflows to handle
// (service.HandleArrivals). Arrivals that find it full are dropped.
func (h *Hub) Arrivals() <-chan lanyard.CardArrival { return h.arrivals }

// cardSeen queues a card that arrived in a reader of workstation ws,
// or (pinOnly) one whose PIN status the agent saw change (docs/
// lifecycle.md, "PIN blocked cards"). r.Serial is the agent's claim, not
// a proof: the card workflows act on the report only for a card tied to
// ws (docs/security.md, "Agent reports"). c.mu may be held: it never
// blocks.
func (h *Hub) cardSeen(ws int64, r lanyard.Reader, pinOnly bool) {
	select {
	case h.arrivals <- lanyard.CardArrival{WorkstationID: ws, Reader: r, PINOnly: pinOnly}:
	default:
	}
}
