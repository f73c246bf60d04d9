package pcsc

import (
	"context"
	"sync"

	"github.com/ebfe/scard"
)

// Card is a connection to the card in one reader. It implements
// apdu.Transport. Methods are safe for concurrent use; APDUs are exchanged
// one at a time.
type Card struct {
	reader string
	mu     sync.Mutex
	card   *scard.Card
}

// Connect connects to the card in reader with protocol T=1 (PIV cards and
// vpcd speak it; clients connect with T=1 only). exclusive keeps every
// other application away from the card until Close, for operations that
// must not be interleaved; otherwise use Transaction for shorter exclusive spans.
func (c *Context) Connect(reader string, exclusive bool) (*Card, error) {
	mode := scard.ShareShared
	if exclusive {
		mode = scard.ShareExclusive
	}
	c.mu.Lock()
	card, err := c.ctx.Connect(reader, mode, scard.ProtocolT1)
	c.mu.Unlock()
	if err != nil {
		return nil, wrap("connect to "+reader, err)
	}
	return &Card{reader: reader, card: card}, nil
}

// Reader is the name of the card's reader.
func (k *Card) Reader() string { return k.reader }

// Transmit sends one command APDU and returns the response APDU (data and
// SW1 SW2). PC/SC cannot abort an exchange in flight, so ctx is checked
// before sending only.
func (k *Card) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	resp, err := k.card.Transmit(cmd)
	if err != nil {
		return nil, wrap("transmit to the card in "+k.reader, err)
	}
	return resp, nil
}

// ATR returns the card's Answer To Reset.
func (k *Card) ATR() ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	st, err := k.card.Status()
	if err != nil {
		return nil, wrap("read the status of the card in "+k.reader, err)
	}
	return st.Atr, nil
}

// Transaction runs fn while holding the card exclusively (PC/SC
// SCardBeginTransaction): other applications' commands and connections
// wait (pcsc-lite blocks them rather than failing them) until fn returns.
// The card is left as it is afterwards.
func (k *Card) Transaction(ctx context.Context, fn func(ctx context.Context) error) error {
	k.mu.Lock()
	err := k.card.BeginTransaction()
	k.mu.Unlock()
	if err != nil {
		return wrap("begin a transaction on the card in "+k.reader, err)
	}
	defer func() {
		k.mu.Lock()
		k.card.EndTransaction(scard.LeaveCard)
		k.mu.Unlock()
	}()
	return fn(ctx)
}

// Close disconnects, leaving the card powered and as it is.
func (k *Card) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return wrap("disconnect from the card in "+k.reader, k.card.Disconnect(scard.LeaveCard))
}
