package agenthub

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card that arrives in a reader is the moment the server can finish
// what an earlier issue left undone: a card issued before cards got their
// own PUK still holds the card type's shared one, which the service
// replaces (service.RotateSharedPUK; issue 13). The hub hands arrivals to
// a few workers through a bounded queue: the connection's goroutine never
// waits on the database or the card, and when an AirCard service reports
// thousands of cards at once the overflow is dropped, those cards being
// handled at their next arrival.

// seenQueue bounds the arrivals waiting; seenWorkers run them.
const (
	seenQueue   = 256
	seenWorkers = 2
	// seenTimeout bounds one card's handling: a card session takes well
	// under a second, a busy card slot or a slow agent gives up.
	seenTimeout = 30 * time.Second
)

type seenCard struct {
	workstation int64
	reader      lanyard.Reader
}

// cardSeen queues a card that arrived in a reader of workstation ws.
// c.mu may be held: it never blocks.
func (h *Hub) cardSeen(ws int64, r lanyard.Reader) {
	h.seenOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		h.seen, h.stopSeen = make(chan seenCard, seenQueue), cancel
		for range seenWorkers {
			go h.seenLoop(ctx)
		}
	})
	if h.seen == nil {
		return // closed
	}
	select {
	case h.seen <- seenCard{workstation: ws, reader: r}:
	default:
	}
}

func (h *Hub) seenLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-h.seen:
			h.handleSeen(ctx, c)
		}
	}
}

func (h *Hub) handleSeen(ctx context.Context, c seenCard) {
	ctx, cancel := context.WithTimeout(ctx, seenTimeout)
	defer cancel()
	done, err := h.svc.RotateSharedPUK(ctx, c.workstation, c.reader.Name, c.reader.Serial)
	switch {
	case err != nil && ctx.Err() == nil:
		h.log.Warn("replacing a card's shared PUK failed; tried again at its next connection", "workstation", c.workstation, "serial", c.reader.Serial, "err", err)
	case done:
		h.log.Info("card got its own PUK", "workstation", c.workstation, "serial", c.reader.Serial)
	}
}
