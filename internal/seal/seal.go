// Package seal encrypts secrets at rest (CA private keys, card type default
// PINs and admin keys, master secrets) with AES-256-GCM under Lanyard's
// master key. Sealed values carry a format byte and the key's identifier so
// that a wrong master key is reported as such rather than as corruption.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer seals and opens secrets. aad binds a sealed value to its use (for
// example "ca-key:builtin"), so a value copied to another row fails to open.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

const (
	formatV1 = 0x01
	keyIDLen = 4
	// KeySize is the master key length: AES-256.
	KeySize = 32
)

// ErrWrongKey means the value was sealed under another master key.
var ErrWrongKey = errors.New("seal: value was sealed under a different master key")

// ErrCorrupt means the value is not a sealed value or was modified.
var ErrCorrupt = errors.New("seal: sealed value is corrupt or was modified")

// AESGCM is a Sealer over one 256-bit master key.
type AESGCM struct {
	aead  cipher.AEAD
	keyID [keyIDLen]byte
	prk   []byte // HKDF-Extract of the master key (DeriveKey)
}

// Deriver derives keys for other uses from the master key; AESGCM is
// one.
type Deriver interface {
	// DeriveKey returns a 32-byte key for purpose, the same for the same
	// master key and purpose, and unrelated to keys for other purposes.
	DeriveKey(purpose string) ([]byte, error)
}

// DeriveKey implements Deriver with HKDF-SHA256 (RFC 5869): the master
// key is extracted once under a fixed salt and expanded with purpose as
// the info, so no derived key reveals the master key or another derived
// key. Replicas sharing the master key derive the same keys (the
// throttles' key hash, internal/auth).
func (s *AESGCM) DeriveKey(purpose string) ([]byte, error) {
	return hkdf.Expand(sha256.New, s.prk, "lanyard derived key\x00"+purpose, 32)
}

// New returns a Sealer for key, which must be KeySize bytes.
func New(key []byte) (*AESGCM, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: master key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, key, []byte("lanyard seal derive"))
	if err != nil {
		return nil, err
	}
	s := &AESGCM{aead: aead, prk: prk}
	// The key identifier is a hash of the key under a fixed label: it tells
	// keys apart without revealing anything usable about them.
	id := sha256.Sum256(append([]byte("lanyard seal key id\x00"), key...))
	copy(s.keyID[:], id[:])
	return s, nil
}

// Seal returns format ‖ keyID ‖ nonce ‖ ciphertext+tag.
func (s *AESGCM) Seal(plaintext, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	out := make([]byte, 1+keyIDLen+ns, 1+keyIDLen+ns+len(plaintext)+s.aead.Overhead())
	out[0] = formatV1
	copy(out[1:], s.keyID[:])
	if _, err := rand.Read(out[1+keyIDLen:]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[1+keyIDLen:], plaintext, s.additional(aad)), nil
}

// Open reverses Seal.
func (s *AESGCM) Open(sealed, aad []byte) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < 1+keyIDLen+ns+s.aead.Overhead() || sealed[0] != formatV1 {
		return nil, ErrCorrupt
	}
	if string(sealed[1:1+keyIDLen]) != string(s.keyID[:]) {
		return nil, ErrWrongKey
	}
	nonce := sealed[1+keyIDLen : 1+keyIDLen+ns]
	pt, err := s.aead.Open(nil, nonce, sealed[1+keyIDLen+ns:], s.additional(aad))
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// additional binds the format byte and key id into the GCM tag as well.
func (s *AESGCM) additional(aad []byte) []byte {
	out := make([]byte, 0, 1+keyIDLen+len(aad))
	out = append(out, formatV1)
	out = append(out, s.keyID[:]...)
	return append(out, aad...)
}
