package cardops

import (
	"context"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Arrival handling: a card that arrives in a reader gets its own PUK if
// it still holds its card type's shared one (RotateSharedPUK; issue 13),
// or a new one if an offline unblock released its own (RotateReleasedPUK).
const (
	// arrivalWorkers handle arrivals at once.
	arrivalWorkers = 2
	// arrivalTimeout bounds one card's handling: a card session takes
	// well under a second, a busy card slot or a slow agent gives up.
	arrivalTimeout = 30 * time.Second
)

// HandleArrivals handles the cards that arrive (the agent hub's
// Arrivals) with a few workers until ctx is done or arrivals is closed.
// lanyard serve runs it once, beside the hub.
func (s *Cards) HandleArrivals(ctx context.Context, arrivals <-chan lanyard.CardArrival) {
	var wg sync.WaitGroup
	for range arrivalWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case a, ok := <-arrivals:
					if !ok {
						return
					}
					s.handleArrival(ctx, a)
				}
			}
		})
	}
	wg.Wait()
}

func (s *Cards) handleArrival(ctx context.Context, a lanyard.CardArrival) {
	ctx, cancel := context.WithTimeout(ctx, arrivalTimeout)
	defer cancel()
	done, err := s.RotateSharedPUK(ctx, a.WorkstationID, a.Reader.Name, a.Reader.Serial)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("replacing a card's shared PUK failed; tried again at its next connection", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
	case done:
		s.log.Info("card got its own PUK", "workstation", a.WorkstationID, "serial", a.Reader.Serial)
	}
	if err != nil || done {
		return
	}
	done, err = s.RotateReleasedPUK(ctx, a.WorkstationID, a.Reader.Name, a.Reader.Serial)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("changing a card's PUK released by an offline unblock failed; tried again at its next connection", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
	case done:
		s.log.Info("card's released PUK changed", "workstation", a.WorkstationID, "serial", a.Reader.Serial)
	}
}
