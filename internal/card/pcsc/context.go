package pcsc

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ebfe/scard"
)

// Context is a connection to the PC/SC resource manager.
type Context struct {
	mu  sync.Mutex // scard contexts are not safe for concurrent calls
	ctx *scard.Context
}

// Establish connects to pcscd. It fails with ErrNoService when pcscd does
// not run.
func Establish() (*Context, error) {
	c, err := scard.EstablishContext()
	if err != nil {
		return nil, wrap("establish a PC/SC context", err)
	}
	return &Context{ctx: c}, nil
}

// Release disconnects from pcscd; cards connected through the context
// stay usable until closed (pcscd keeps their handles).
func (c *Context) Release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return wrap("release the PC/SC context", c.ctx.Release())
}

// Readers lists the reader names pcscd knows. No readers is not an error.
func (c *Context) Readers() ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs, err := c.ctx.ListReaders()
	if errors.Is(err, scard.ErrNoReadersAvailable) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list readers", err)
	}
	return rs, nil
}

// Errors callers tell apart.
var (
	ErrNoService   = errors.New("pcsc: pcscd is not running")
	ErrNoCard      = errors.New("pcsc: no card in the reader")
	ErrCardRemoved = errors.New("pcsc: the card was removed")
	ErrSharing     = errors.New("pcsc: the card is in use by another application")
	ErrNoReader    = errors.New("pcsc: no such reader")
)

// wrap turns scard errors into the package's errors with context.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch err {
	case scard.ErrNoService, scard.ErrServiceStopped:
		kind = ErrNoService
	case scard.ErrNoSmartcard:
		kind = ErrNoCard
	case scard.ErrRemovedCard, scard.ErrResetCard:
		kind = ErrCardRemoved
	case scard.ErrSharingViolation:
		kind = ErrSharing
	case scard.ErrUnknownReader, scard.ErrReaderUnavailable:
		kind = ErrNoReader
	}
	if kind != nil {
		return fmt.Errorf("%s: %w (%v)", what, kind, err)
	}
	return fmt.Errorf("pcsc: %s: %w", what, err)
}
