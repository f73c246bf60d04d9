package unblockcode

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Scheme is how a card kind proves an offline unblock (docs/lifecycle.md,
// "Offline unblock"). It is the top two bits of a challenge, so the server
// answers only the scheme it recorded for the card.
type Scheme uint8

const (
	// SchemeLanyardMAC: Lanyard's own PIV cards (the emulator behind
	// `lanyard card emulate`, AirCards) check a MAC of their challenge
	// under a key derived from their diversified management key.
	SchemeLanyardMAC Scheme = 0
	// SchemeLanyardTPM: the TPM virtual card, whose TPM checks a
	// pre-armed one-time code.
	SchemeLanyardTPM Scheme = 1
	// SchemePIVPUK: a standard PIV card, which only its PUK unblocks.
	SchemePIVPUK Scheme = 2
)

func (s Scheme) String() string {
	switch s {
	case SchemeLanyardMAC:
		return "lanyard-mac"
	case SchemeLanyardTPM:
		return "lanyard-tpm"
	case SchemePIVPUK:
		return "piv-puk"
	}
	return fmt.Sprintf("scheme-%d", uint8(s))
}

// A challenge's 70 bits: scheme (2), card tag (16), counter (16), nonce (36).
const (
	nonceBits = 36
	// NonceMax is the largest nonce.
	NonceMax = 1<<nonceBits - 1
)

// ChallengeFields is a challenge's content.
type ChallengeFields struct {
	Scheme Scheme
	// CardTag is 16 bits of a hash of the card's serial (CardTag), so a
	// challenge from another card is recognised before any MAC is
	// computed. The MAC is the real binding.
	CardTag uint16
	// Counter is the card's count of challenges (SchemeLanyardMAC) or of
	// arms (SchemeLanyardTPM): a used counter is never answered again.
	Counter uint16
	// Nonce is the card's random part.
	Nonce uint64
}

// Pack builds the payload of a challenge.
func (f ChallengeFields) Pack() (Payload, error) {
	if f.Scheme > 3 || f.Nonce > NonceMax {
		return Payload{}, errors.New("unblockcode: challenge field out of range")
	}
	// 70 bits as 6 high bits (scheme, top of the tag) and 64 low bits.
	hi := byte(f.Scheme)<<4 | byte(f.CardTag>>12)
	lo := f.Nonce | uint64(f.Counter)<<nonceBits | uint64(f.CardTag&0x0FFF)<<(nonceBits+16)
	var p Payload
	p[0] = hi
	binary.BigEndian.PutUint64(p[1:], lo)
	return p, nil
}

// UnpackChallenge reads a challenge's payload.
func UnpackChallenge(p Payload) ChallengeFields {
	hi := uint64(p[0] & 0x3F)
	lo := binary.BigEndian.Uint64(p[1:])
	return ChallengeFields{
		Scheme:  Scheme(hi >> 4),
		CardTag: uint16(hi&0x0F)<<12 | uint16(lo>>(nonceBits+16)),
		Counter: uint16(lo >> nonceBits),
		Nonce:   lo & NonceMax,
	}
}

// CardTag is the 16-bit tag of a card's serial (see ChallengeFields).
func CardTag(serial string) uint16 {
	h := sha256.Sum256([]byte("lanyard card tag v1\x00" + serial))
	return binary.BigEndian.Uint16(h[:2])
}

// MACKey derives the key a SchemeLanyardMAC card and the server share:
// HKDF-SHA256 (RFC 5869) of the card's management key (9B), bound to the
// card's serial. The server derives the management key itself
// (personalize.Derive) and so the MAC key; nothing new is provisioned,
// and the key follows a management key rotation by itself.
func MACKey(managementKey []byte, serial string) ([]byte, error) {
	return hkdf.Key(sha256.New, managementKey, nil, "lanyard offline unblock v1\x00"+serial, 32)
}

// ResponseMAC is the response to challenge ch of the card with serial:
// the first 70 bits of HMAC-SHA256 under key of the scheme, the serial
// and the challenge.
func ResponseMAC(key []byte, serial string, ch Payload) Payload {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("LANYARD-UNBLOCK-1"))
	f := UnpackChallenge(ch)
	m.Write([]byte{byte(f.Scheme), byte(len(serial))})
	m.Write([]byte(serial))
	m.Write(ch[:])
	var p Payload
	copy(p[:], m.Sum(nil))
	p[0] &= 0x3F
	return p
}
