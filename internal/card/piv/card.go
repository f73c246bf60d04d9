package piv

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// PIN lengths. SP 800-73-4 Part 2 2.4.3 makes a PIV PIN 6 to 8 bytes; some
// card types allow 4, and the 8-byte reference data field caps them all.
const (
	DefaultMinPINLength = 6
	MinPINLength        = 4
	MaxPINLength        = 8
)

// Config is what a Card needs besides its transport.
type Config struct {
	// Rand supplies the challenges of mutual authentication, the salts of
	// RSA-PSS signatures and the wrong PINs that block a card before a
	// reset. Required; crypto/rand.Reader outside tests.
	Rand io.Reader

	// MinPINLength is the shortest PIN or PUK the Card sends: shorter ones
	// are refused before they reach the card (and cost a try). 0 selects
	// DefaultMinPINLength; otherwise 4 to 8.
	MinPINLength int
}

// Card is a PIV card application reached over an apdu.Transport. It keeps
// no state of the card's: what the card has verified or selected lives on
// the card and is lost when the card is reset or removed.
type Card struct {
	client apdu.Client
	rand   io.Reader
	minPIN int
}

// New returns a Card that talks to the card over t. It does not select the
// PIV application; call Select first, as the card may hold others.
func New(t apdu.Transport, cfg Config) (*Card, error) {
	if t == nil {
		return nil, errors.New("piv: New with a nil Transport")
	}
	if cfg.Rand == nil {
		return nil, errors.New("piv: Config.Rand is required")
	}
	minPIN := cfg.MinPINLength
	if minPIN == 0 {
		minPIN = DefaultMinPINLength
	}
	if minPIN < MinPINLength || minPIN > MaxPINLength {
		return nil, fmt.Errorf("piv: Config.MinPINLength %d is outside %d to %d", cfg.MinPINLength, MinPINLength, MaxPINLength)
	}
	return &Card{client: apdu.Client{Transport: t}, rand: cfg.Rand, minPIN: minPIN}, nil
}

// do sends cmd and returns the response data of a 9000, or the status
// word as one of the package's errors, naming op.
func (c *Card) do(ctx context.Context, op string, cmd apdu.Command) ([]byte, error) {
	data, err := c.client.Do(ctx, cmd)
	if err != nil {
		return nil, wrap(op, err)
	}
	return data, nil
}

// doAuth is do for commands that check a PIN or PUK (ref): 63CX and 6300
// become *AuthError.
func (c *Card) doAuth(ctx context.Context, op string, ref KeyRef, cmd apdu.Command) ([]byte, error) {
	data, err := c.client.Do(ctx, cmd)
	if err != nil {
		return nil, wrapAuth(op, ref, err)
	}
	return data, nil
}

// randomBytes returns n bytes from the configured source.
func (c *Card) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(c.rand, b); err != nil {
		return nil, fmt.Errorf("piv: reading randomness: %w", err)
	}
	return b, nil
}
