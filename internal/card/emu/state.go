package emu

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// StateFormat is the version of State that this package writes and reads.
const StateFormat = 1

// State is everything a card keeps across power cycles: what a real card
// holds in non-volatile memory. A StateStore persists it; a Card restored
// from an equal State behaves identically.
//
// It holds secrets in clear (PIN, PUK, management key, software private
// keys): stores must protect it, as SealedFile does. PIN and PUK are kept
// as values rather than hashes: a hash of an 8-digit secret is no
// protection against anyone who can read the state, while the retry counter
// on the card is. A card whose KeyStore is a PINGuard keeps neither: PIN
// and PUK are empty and Guard holds the guard's data.
type State struct {
	Format int    `json:"format"`
	Serial uint32 `json:"serial"`

	// PIN and PUK are the reference data, padded with FF to 8 bytes
	// (SP 800-73-4 Part 2, 2.4.3); empty when Guard is set.
	PIN []byte `json:"pin,omitempty"`
	PUK []byte `json:"puk,omitempty"`

	// Guard replaces PIN and PUK on a card whose KeyStore is a
	// PINGuard.
	Guard *GuardState `json:"guard,omitempty"`

	// PINRetries and PUKRetries are the values the retry counters are
	// reset to; the TriesLeft fields are the counters.
	PINRetries   int `json:"pin_retries"`
	PINTriesLeft int `json:"pin_tries_left"`
	PUKRetries   int `json:"puk_retries"`
	PUKTriesLeft int `json:"puk_tries_left"`

	ManagementKey ManagementKey `json:"management_key"`

	// Objects maps a data object's tag (0x5FC102, 0x7E, ...) to its
	// value: the contents of the 53 container for BER-TLV objects, the
	// whole encoding for the Discovery object (7E) and the BIT group
	// template (7F61), which are not wrapped in 53.
	Objects map[uint32][]byte `json:"objects"`

	// Keys maps a key reference (0x9A, ...; 0xF9 the attestation key) to
	// the key in that slot.
	Keys map[byte]SlotKey `json:"keys"`

	// Offline is the card's offline unblock state (offline.go).
	Offline OfflineState `json:"offline,omitzero"`
}

// OfflineState is what an offline unblock keeps across power cycles: a
// phone call to the help desk outlasts a card session.
type OfflineState struct {
	// Key is the offline unblock key the server set (SET OFFLINE KEY);
	// nil: the card cannot be unblocked offline.
	Key []byte `json:"key,omitempty"`
	// Counter counts the challenges the card made; the server never
	// answers a counter twice.
	Counter uint16 `json:"counter,omitempty"`
	// Pending is the challenge waiting for its response, if any.
	Pending *PendingChallenge `json:"pending,omitempty"`
	// Armed is the code armed in the PIN guard of a card that has one
	// (offlinetpm.go), if any.
	Armed *ArmedCode `json:"armed,omitempty"`
	// LastArmed is the counter of the last code armed in the PIN guard
	// since it was made: each later ARM must count above it, so that a
	// code once used or replaced is never armed again (offlinetpm.go).
	LastArmed uint16 `json:"last_armed,omitempty"`
}

// PendingChallenge is a challenge the card made and has not seen an
// answer to.
type PendingChallenge struct {
	Counter uint16    `json:"counter"`
	Nonce   uint64    `json:"nonce"`
	Created time.Time `json:"created"`
}

// ManagementKey is the PIV Card Application Administration Key (9B).
type ManagementKey struct {
	Algorithm Algorithm   `json:"algorithm"`
	Key       []byte      `json:"key"`
	Touch     TouchPolicy `json:"touch"`
}

// SlotKey is an asymmetric key in a slot, with its policies as resolved
// when it was generated or imported.
type SlotKey struct {
	Algorithm   Algorithm   `json:"algorithm"`
	PINPolicy   PINPolicy   `json:"pin_policy"`
	TouchPolicy TouchPolicy `json:"touch_policy"`
	Origin      Origin      `json:"origin"`
	// Blob is what the KeyStore's Key.Blob returned.
	Blob []byte `json:"blob"`
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := *s
	c.PIN = bytes.Clone(s.PIN)
	c.PUK = bytes.Clone(s.PUK)
	if s.Guard != nil {
		g := *s.Guard
		g.Data = bytes.Clone(g.Data)
		c.Guard = &g
	}
	c.ManagementKey.Key = bytes.Clone(s.ManagementKey.Key)
	c.Objects = make(map[uint32][]byte, len(s.Objects))
	for t, v := range s.Objects {
		c.Objects[t] = bytes.Clone(v)
	}
	c.Offline.Key = bytes.Clone(s.Offline.Key)
	if s.Offline.Pending != nil {
		p := *s.Offline.Pending
		c.Offline.Pending = &p
	}
	if s.Offline.Armed != nil {
		a := *s.Offline.Armed
		c.Offline.Armed = &a
	}
	c.Keys = maps.Clone(s.Keys)
	if c.Keys == nil {
		c.Keys = map[byte]SlotKey{}
	}
	for r, k := range c.Keys {
		k.Blob = bytes.Clone(k.Blob)
		c.Keys[r] = k
	}
	return &c
}

// Validate checks that s is a state this package can run a card from. A
// StateStore calls it on what it loads, so that a damaged or foreign state
// is refused instead of producing a card that misbehaves.
func (s *State) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Format != StateFormat {
		bad("format %d, want %d", s.Format, StateFormat)
	}
	switch {
	case s.Guard != nil:
		if len(s.PIN) > 0 || len(s.PUK) > 0 {
			bad("PIN or PUK set in a state whose PIN guard holds them")
		}
		if len(s.Guard.Data) == 0 {
			bad("empty PIN guard data")
		}
	default:
		if !validReference(s.PIN) {
			bad("PIN is not 6 to 8 bytes padded with FF to 8")
		}
		if !validReference(s.PUK) {
			bad("PUK is not 6 to 8 bytes padded with FF to 8")
		}
	}
	if s.PINRetries < 1 || s.PINRetries > 255 || s.PINTriesLeft < 0 || s.PINTriesLeft > s.PINRetries {
		bad("PIN retries %d of %d", s.PINTriesLeft, s.PINRetries)
	}
	if s.PUKRetries < 1 || s.PUKRetries > 255 || s.PUKTriesLeft < 0 || s.PUKTriesLeft > s.PUKRetries {
		bad("PUK retries %d of %d", s.PUKTriesLeft, s.PUKRetries)
	}
	if k := s.Offline.Key; k != nil && len(k) != 32 {
		bad("offline unblock key of %d bytes, want 32", len(k))
	}
	if p := s.Offline.Pending; p != nil && (p.Counter == 0 || p.Counter > s.Offline.Counter || p.Nonce>>36 != 0) {
		bad("offline unblock challenge %d (nonce %#x) beyond the card's count %d", p.Counter, p.Nonce, s.Offline.Counter)
	}
	if a := s.Offline.Armed; a != nil && (s.Guard == nil || a.Counter == 0 || a.Nonce>>36 != 0 || a.TriesLeft < 0 || a.TriesLeft > pivspec.ArmedCodeTries) {
		bad("armed offline unblock code %d (nonce %#x, %d tries) invalid or without a PIN guard", a.Counter, a.Nonce, a.TriesLeft)
	}
	if n := s.ManagementKey.Algorithm.ManagementKeyLen(); n == 0 || len(s.ManagementKey.Key) != n {
		bad("management key: %v with %d bytes", s.ManagementKey.Algorithm, len(s.ManagementKey.Key))
	}
	for tag, v := range s.Objects {
		if !knownObject(tag) {
			bad("object %X is not a PIV data object", tag)
		}
		if len(v) == 0 || len(v) > MaxObjectSize {
			bad("object %X has %d bytes", tag, len(v))
		}
	}
	for ref, k := range s.Keys {
		if !isKeySlot(ref) && ref != SlotAttestation {
			bad("key in slot %02X, which is not a key slot", ref)
		}
		if !supportedKeyPair(k.Algorithm) {
			bad("slot %02X: %v is not a key-pair algorithm", ref, k.Algorithm)
		}
		if k.PINPolicy < pivspec.PINPolicyNever || k.PINPolicy > pivspec.PINPolicyAlways ||
			k.TouchPolicy < pivspec.TouchPolicyNever || k.TouchPolicy > pivspec.TouchPolicyCached ||
			(k.Origin != pivspec.OriginGenerated && k.Origin != pivspec.OriginImported) {
			bad("slot %02X: policies or origin out of range", ref)
		}
		if len(k.Blob) == 0 {
			bad("slot %02X: empty key blob", ref)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("emu: invalid card state: %w", errors.Join(errs...))
	}
	return nil
}

// StateStore persists a card's State. The card calls Save after every
// change, with its lock held, and Load once, when it is created.
type StateStore interface {
	// Load returns the stored state, or an error wrapping ErrNoState
	// when the store holds none yet (the card then starts from factory
	// defaults and saves them).
	Load() (*State, error)
	// Save stores s. It must not keep s, which the card goes on
	// changing, and must either store all of s or leave what was stored.
	Save(s *State) error
}

// ErrNoState is returned by StateStore.Load for an empty store.
var ErrNoState = errors.New("emu: no card state stored yet")
