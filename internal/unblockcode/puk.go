package unblockcode

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
)

// A standard PIV card (SchemePIVPUK) sets a new PIN only with its PUK
// (SP 800-73-4 part 2, 3.2.3 RESET RETRY COUNTER), so the response to its
// challenge carries the card's own random PUK (docs/lifecycle.md,
// "Offline unblock"): 48 bits, the PUK's base-62 value masked with a hash
// of the card's serial and the challenge, then a 22-bit check over the
// same and the PUK. The mask keeps a response seen alone (a ticket, a
// screenshot) from being a PUK; whoever hears both codes learns it, which
// is why the tool changes the PUK at once and the server rotates it at
// the card's next online contact. The check lets the tool refuse a
// response for another card or challenge before it spends a PUK try:
// such a response passes it with probability 2^-22.

// PUKLength is the length of a PUK that can be released: Lanyard's
// random PUKs have 8 characters of PUKAlphabet (62^8 < 2^48).
const PUKLength = 8

// PUKAlphabet is the characters of a releasable PUK, in the order of
// their base-62 digits.
const PUKAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

const (
	pukMaskBits  = 48
	pukCheckBits = PayloadBits - pukMaskBits // 22
)

// ErrPUKNotReleasable: the PUK is not 8 characters of PUKAlphabet (a
// card type's default or one a user chose), so it cannot be carried in a
// response.
var ErrPUKNotReleasable = errors.New("unblockcode: this PUK cannot be carried in a response")

// ErrNotForThisChallenge: the response's check does not match: it was
// made for another card or another challenge (or mistyped beyond what the
// CRC catches).
var ErrNotForThisChallenge = errors.New("this response is not for this card or challenge")

// pukHash is SHA-256 of label, the serial (with its length) and the
// challenge, then extra.
func pukHash(label, serial string, ch Payload, extra string) [32]byte {
	h := sha256.New()
	h.Write([]byte(label))
	h.Write([]byte{byte(len(serial))})
	h.Write([]byte(serial))
	h.Write(ch[:])
	h.Write([]byte(extra))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// pukMask is the first 48 bits of SHA-256("LANYARD-PUK-MASK-1" ‖ len ‖
// serial ‖ challenge).
func pukMask(serial string, ch Payload) uint64 {
	h := pukHash("LANYARD-PUK-MASK-1", serial, ch, "")
	return binary.BigEndian.Uint64(h[:8]) >> (64 - pukMaskBits)
}

// pukCheck is the first 22 bits of SHA-256("LANYARD-PUK-CHECK-1" ‖ len ‖
// serial ‖ challenge ‖ PUK).
func pukCheck(serial string, ch Payload, puk string) uint64 {
	h := pukHash("LANYARD-PUK-CHECK-1", serial, ch, puk)
	return uint64(binary.BigEndian.Uint32(h[:4]) >> (32 - pukCheckBits))
}

// PUKResponse is the response that releases puk to the tool that made
// challenge ch on the card with serial.
func PUKResponse(serial string, ch Payload, puk string) (Payload, error) {
	if len(puk) != PUKLength {
		return Payload{}, ErrPUKNotReleasable
	}
	var idx uint64
	for i := range len(puk) {
		d := strings.IndexByte(PUKAlphabet, puk[i])
		if d < 0 {
			return Payload{}, ErrPUKNotReleasable
		}
		idx = idx*62 + uint64(d)
	}
	return packPUK(idx^pukMask(serial, ch), pukCheck(serial, ch, puk)), nil
}

// OpenPUKResponse unmasks the PUK from response r to challenge ch of the
// card with serial, and checks it: ErrNotForThisChallenge when the check
// does not match. Nothing is sent to any card.
func OpenPUKResponse(serial string, ch Payload, r Payload) (string, error) {
	masked, check := unpackPUK(r)
	idx := masked ^ pukMask(serial, ch)
	var b [PUKLength]byte
	for i := PUKLength - 1; i >= 0; i-- {
		b[i] = PUKAlphabet[idx%62]
		idx /= 62
	}
	puk := string(b[:])
	if idx != 0 || pukCheck(serial, ch, puk) != check {
		return "", ErrNotForThisChallenge
	}
	return puk, nil
}

// packPUK lays out a response: the masked PUK in the top 48 bits of the
// 70, the check in the low 22.
func packPUK(masked, check uint64) Payload {
	var p Payload
	p[0] = byte(masked >> (pukMaskBits - 6))
	binary.BigEndian.PutUint64(p[1:], masked<<pukCheckBits|check)
	return p
}

func unpackPUK(p Payload) (masked, check uint64) {
	lo := binary.BigEndian.Uint64(p[1:])
	masked = uint64(p[0]&0x3F)<<(pukMaskBits-6) | lo>>pukCheckBits
	return masked, lo & (1<<pukCheckBits - 1)
}
