package agent

import (
	"context"
	"errors"
)

// Readers is how the agent reaches cards: PC/SC on a workstation
// (PCSCReaders), emulated cards in process for demos and tests
// (MemReaders).
type Readers interface {
	// Watch reports the state of every reader, then every change, until
	// ctx ends.
	Watch(ctx context.Context, fn func(ReaderEvent)) error
	// Connect connects to the card in reader. An exclusive connection
	// keeps every other application away from the card until Close.
	Connect(reader string, exclusive bool) (Card, error)
}

// ReaderEvent is a change in one reader: a card inserted (Present, ATR),
// removed, or the reader gone.
type ReaderEvent struct {
	Reader  string
	Present bool
	ATR     []byte
	Gone    bool
}

// Card is a connection to one card; it implements apdu.Transport.
type Card interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
	Close() error
}

// Errors a Readers implementation returns (wrapped) so the agent can tell
// the server what happened.
var (
	ErrNoCard      = errors.New("agent: no card in the reader")
	ErrNoReader    = errors.New("agent: no such reader")
	ErrCardBusy    = errors.New("agent: the card is in use by another application")
	ErrCardRemoved = errors.New("agent: the card was removed")
)
