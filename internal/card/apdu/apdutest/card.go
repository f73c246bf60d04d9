package apdutest

import (
	"context"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// Card is a Transport backed by a handler function behind an
// apdu.CardFramer: the handler sees complete commands and returns whole
// responses, while the wire carries short APDUs with command chaining and
// GET RESPONSE as from a real card. It suits tests that need a card with a
// few scripted answers; the PIV emulator is the full card.
//
// Card is safe for concurrent use; exchanges are serialised.
type Card struct {
	handle func(apdu.Command) apdu.Response
	mu     sync.Mutex
	framer apdu.CardFramer
}

// NewCard returns a Card that answers complete commands with handle.
func NewCard(handle func(apdu.Command) apdu.Response) *Card {
	if handle == nil {
		panic("apdutest: NewCard with a nil handler")
	}
	return &Card{handle: handle}
}

// Transmit processes one raw command APDU.
func (c *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.framer.Process(cmd, c.handle), nil
}

// Reset simulates a card reset: chains and pending responses are dropped.
func (c *Card) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.framer.Reset()
}
