package cardops

import (
	"context"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Arrival handling: a card that arrives in a reader gets its own PUK if
// it still holds its card type's shared one (RotateSharedPUK; issue 13),
// or a new one if an offline unblock released its own
// (RotateReleasedPUK), and a TPM card a new offline unblock code when its
// last was used or given out (RearmOffline); the PIN status its agent
// read is recorded (RecordPINStatus), as is every change of it the agent
// sees later, and the agent is told the card's state (tellCardState:
// disabled, revoked); both only for a card tied to the workstation
// (cardTiedTo: an agent's serial is a claim). A card whose update is
// due is then updated in the background when its owner's policy says so
// (queueAutoUpdate, updateauto.go).
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
	wg.Go(func() { s.runAutoUpdates(ctx) })
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
	if pin := a.Reader.PIN; pin != nil {
		if _, err := s.RecordPINStatus(ctx, a.WorkstationID, a.Reader.Serial, *pin); err != nil && ctx.Err() == nil {
			s.log.Warn("recording a card's PIN status failed", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
		}
	}
	if a.PINOnly {
		return
	}
	s.tellCardState(ctx, a.WorkstationID, a.Reader.Serial)
	done, err := s.RotateSharedPUK(ctx, a.WorkstationID, a.Reader.Name, a.Reader.Serial)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("replacing a card's shared PUK failed; tried again at its next connection", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
	case done:
		s.log.Info("card got its own PUK", "workstation", a.WorkstationID, "serial", a.Reader.Serial)
	}
	if err == nil && !done {
		done, err = s.RotateReleasedPUK(ctx, a.WorkstationID, a.Reader.Name, a.Reader.Serial)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("changing a card's PUK released by an offline unblock failed; tried again at its next connection", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
		case done:
			s.log.Info("card's released PUK changed", "workstation", a.WorkstationID, "serial", a.Reader.Serial)
		}
	}
	armed, err := s.RearmOffline(ctx, a.WorkstationID, a.Reader.Name, a.Reader.Serial)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("arming a TPM card's offline unblock code failed; tried again at its next connection", "workstation", a.WorkstationID, "serial", a.Reader.Serial, "err", err)
	case armed:
		s.log.Info("TPM card got a new offline unblock code", "workstation", a.WorkstationID, "serial", a.Reader.Serial)
	}
	// Last: the update (RSA keys are slow) runs apart, in its own pool.
	s.queueAutoUpdate(ctx, a)
}
