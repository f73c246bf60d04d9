package cardops

import (
	"context"
	"runtime"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Card operations are admitted a few at a time. Each one holds a card
// that a person is waiting on and relays APDUs whose round trips must
// stay short (cards and middleware time out); two hundred operations
// started in the same instant would otherwise share the CPUs so thinly
// that every APDU waits. Admitted operations run at full speed; the rest
// wait their turn before they open the card, bounded by their request's
// context. The figures are in docs/performance.md.

// DefaultCardOperations is how many card operations run at once when
// Config.CardOperations is zero: a few per CPU, enough to keep the CPUs
// busy while some operations wait on the network or the database.
func DefaultCardOperations() int { return 4 * runtime.GOMAXPROCS(0) }

type cardSlots chan struct{}

func newCardSlots(n int) cardSlots {
	if n <= 0 {
		n = DefaultCardOperations()
	}
	return make(cardSlots, n)
}

// acquire waits for a slot; release gives it back (once).
func (c cardSlots) acquire(ctx context.Context) (release func(), err error) {
	select {
	case c <- struct{}{}:
	case <-ctx.Done():
		return nil, lanyard.Wrap(lanyard.EUnavailable, ctx.Err(), "the server is busy with other card operations; try again")
	}
	var once sync.Once
	return func() { once.Do(func() { <-c }) }, nil
}

// slotSession gives the slot back when the card session closes.
type slotSession struct {
	lanyard.CardSession
	release func()
}

func (s *slotSession) Close() error {
	defer s.release()
	return s.CardSession.Close()
}
