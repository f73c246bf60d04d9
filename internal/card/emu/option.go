package emu

import (
	"crypto/rand"
	"io"
	"log/slog"
	"time"
)

type config struct {
	store StateStore
	keys  KeyStore
	rand  io.Reader
	now   func() time.Time
	log   *slog.Logger
	atr   []byte
	// plain: no Lanyard vendor instructions (WithoutLanyardExtensions).
	plain bool
	// noMove: no MOVE KEY (WithoutMoveKey).
	noMove bool
}

func newConfig(opts []Option) config {
	c := config{
		store: &MemoryStore{},
		keys:  SoftKeyStore{},
		rand:  rand.Reader,
		now:   time.Now,
		log:   slog.New(slog.DiscardHandler),
		atr:   atr,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Option configures a Card.
type Option func(*config)

// WithStateStore keeps the card's state in s (default: a new MemoryStore,
// so the card is forgotten with the process). A store that already holds a
// state gives back that card; an empty one gets a factory-fresh card.
func WithStateStore(s StateStore) Option {
	return func(c *config) {
		if s != nil {
			c.store = s
		}
	}
}

// WithKeyStore generates, imports and loads the card's private keys with ks
// (default: SoftKeyStore).
func WithKeyStore(ks KeyStore) Option {
	return func(c *config) {
		if ks != nil {
			c.keys = ks
		}
	}
}

// WithRand draws the card's own random values from r: management key
// witnesses and challenges, serial number, GUID, card identifier,
// certificate serial numbers (default: crypto/rand). A deterministic r makes
// an APDU transcript reproducible; private keys come from the KeyStore.
func WithRand(r io.Reader) Option {
	return func(c *config) {
		if r != nil {
			c.rand = r
		}
	}
}

// WithClock sets the clock that dates attestation certificates (default:
// time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLogger logs the card's internal failures (a state that cannot be
// saved, a key store error) to l. APDUs and secrets are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithATR makes the card answer reset with atr (default: the emulator's
// ATR, issuer data "Lanyard"); see pivspec.ATRWithIssuerData.
func WithATR(a []byte) Option {
	return func(c *config) {
		if len(a) > 0 {
			c.atr = append([]byte(nil), a...)
		}
	}
}

// WithoutLanyardExtensions makes the card a plain PIV card as far as
// Lanyard's own instructions go: every class-80 command (GET UNBLOCK
// CHALLENGE, UNBLOCK PIN WITH RESPONSE, SET OFFLINE KEY) is answered 6E00,
// class not supported, as a YubiKey or any other SP 800-73-4 card does.
// Tests use it to run the standard PIV offline unblock (scheme piv-puk,
// docs/lifecycle.md "Offline unblock") through pcscd exactly as with a
// YubiKey.
func WithoutLanyardExtensions() Option {
	return func(c *config) { c.plain = true }
}

// WithoutMoveKey makes the card one from before YubiKey 5.7: MOVE KEY and
// DELETE KEY (INS F6) are answered 6D00, instruction not supported, as
// YubiKey 5.4.3, whose version the card reports, answers them. Tests use
// it for the update path of cards that cannot move keys.
func WithoutMoveKey() Option {
	return func(c *config) { c.noMove = true }
}
