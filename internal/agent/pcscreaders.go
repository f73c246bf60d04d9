package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pcsc"
)

// PCSCReaders reaches the workstation's readers through pcscd.
type PCSCReaders struct{ pc *pcsc.Context }

// NewPCSCReaders connects to pcscd.
func NewPCSCReaders() (*PCSCReaders, error) {
	pc, err := pcsc.Establish()
	if err != nil {
		return nil, err
	}
	return &PCSCReaders{pc: pc}, nil
}

// Close releases the PC/SC context.
func (r *PCSCReaders) Close() error { return r.pc.Release() }

// Watch implements Readers with pcsc.Context.Watch (changes arrive as
// pcscd sees them).
func (r *PCSCReaders) Watch(ctx context.Context, fn func(ReaderEvent)) error {
	return r.pc.Watch(ctx, func(ev pcsc.Event) {
		fn(ReaderEvent{Reader: ev.Reader, Present: ev.Present, ATR: ev.ATR, Gone: ev.Gone})
	})
}

// Connect implements Readers.
func (r *PCSCReaders) Connect(reader string, exclusive bool) (Card, error) {
	c, err := r.pc.Connect(reader, exclusive)
	if err != nil {
		return nil, pcscError(err)
	}
	return pcscCard{c}, nil
}

type pcscCard struct{ c *pcsc.Card }

func (k pcscCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	resp, err := k.c.Transmit(ctx, cmd)
	if err != nil {
		return nil, pcscError(err)
	}
	return resp, nil
}

func (k pcscCard) Close() error { return k.c.Close() }

// pcscError adds the agent's error kinds to pcsc's.
func pcscError(err error) error {
	var kind error
	switch {
	case errors.Is(err, pcsc.ErrNoCard):
		kind = ErrNoCard
	case errors.Is(err, pcsc.ErrNoReader):
		kind = ErrNoReader
	case errors.Is(err, pcsc.ErrSharing):
		kind = ErrCardBusy
	case errors.Is(err, pcsc.ErrCardRemoved):
		kind = ErrCardRemoved
	default:
		return err
	}
	return fmt.Errorf("%w: %w", kind, err)
}
