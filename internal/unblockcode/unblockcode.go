// Package unblockcode writes and reads the codes of an offline PIN
// unblock (docs/lifecycle.md, "Offline unblock"): the challenge a
// workstation tool reads from the card and the user reads to the help
// desk, and the response the help desk reads back. Both are read over the
// phone, so they are short and forgiving:
//
//   - 70 bits of payload, then a 10-bit CRC (CRC-10/ATM, generator
//     x^10+x^9+x^5+x^4+x+1), 80 bits in all, written as 16 symbols of
//     Crockford's base32 (digits and letters without I, L, O, U) in four
//     groups: 7K3M-9QXA-2D4F-H8TZ;
//   - case, spaces and dashes do not matter, and I and L read as 1, O as 0
//     (Crockford's decoding);
//   - the CRC is computed over the code's kind (challenge or response)
//     and the payload, so a challenge typed where the response belongs is
//     refused like a typo; a degree-10 generator with a constant term
//     detects every error burst of up to 10 bits, which covers every wrong
//     symbol (5 bits) and every swap of two neighbouring symbols.
//
// A refused code never reaches the card: the tool says "type it again"
// and nothing is spent.
package unblockcode

import (
	"errors"
	"strings"
)

// Kind is what a code is: a challenge or a response. It takes part in
// the CRC.
type Kind byte

const (
	Challenge Kind = 'C'
	Response  Kind = 'R'
)

// PayloadBits is the size of a code's payload.
const PayloadBits = 70

// Payload is a code's 70 bits, right-aligned in 9 bytes: the top two bits
// of the first byte are always zero.
type Payload [9]byte

// Valid reports whether p's top two bits are zero.
func (p Payload) Valid() bool { return p[0]&0xC0 == 0 }

// Symbols is the length of a code without its dashes.
const Symbols = 16

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ErrMistyped means the code has a wrong symbol, a wrong length or a
// check that does not match: most likely a typo.
var ErrMistyped = errors.New("this code is mistyped: check it and type it again")

const crcPoly = 0x233 // CRC-10/ATM: x^10 + x^9 + x^5 + x^4 + x + 1 (the x^10 term implied)

// crc10 is the CRC of kind followed by the 70 payload bits, most
// significant bit first.
func crc10(kind Kind, p Payload) uint16 {
	bits := make([]byte, 0, 8+PayloadBits)
	for i := 7; i >= 0; i-- {
		bits = append(bits, byte(kind>>i)&1)
	}
	for i := PayloadBits - 1; i >= 0; i-- {
		bits = append(bits, bitAt(p, i))
	}
	return crcBits(bits)
}

// crcBits is the CRC-10/ATM of a bit string (initial value 0, no
// reflection, no final XOR).
func crcBits(bits []byte) uint16 {
	var reg uint16
	for _, bit := range bits {
		top := (reg >> 9) & 1
		reg = (reg << 1) & 0x3FF
		if top^uint16(bit) == 1 {
			reg ^= crcPoly & 0x3FF
		}
	}
	return reg
}

// bitAt is bit i of p, counting from the least significant bit of the
// last byte.
func bitAt(p Payload, i int) byte { return p[len(p)-1-i/8] >> (i % 8) & 1 }

// Encode writes p as a code of kind, in four groups of four symbols.
// It panics if p is not Valid: payloads come from this program, never
// from input.
func Encode(kind Kind, p Payload) string {
	if !p.Valid() {
		panic("unblockcode: payload wider than 70 bits")
	}
	// The 80-bit codeword: the payload's 70 bits, then the CRC's 10.
	bits := make([]byte, 0, 80)
	for i := PayloadBits - 1; i >= 0; i-- {
		bits = append(bits, bitAt(p, i))
	}
	c := crc10(kind, p)
	for i := 9; i >= 0; i-- {
		bits = append(bits, byte(c>>i)&1)
	}
	var b strings.Builder
	for s := range Symbols {
		if s > 0 && s%4 == 0 {
			b.WriteByte('-')
		}
		v := 0
		for _, bit := range bits[s*5 : s*5+5] {
			v = v<<1 | int(bit)
		}
		b.WriteByte(alphabet[v])
	}
	return b.String()
}

// Decode reads a code of kind as a person typed it. It returns
// ErrMistyped for a wrong symbol, a wrong length, or a check that does
// not match (a typo, or a code of the other kind).
func Decode(kind Kind, s string) (Payload, error) {
	var vals []int
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'I', 'L':
			r = '1'
		case 'O':
			r = '0'
		}
		i := strings.IndexRune(alphabet, r)
		if i < 0 {
			return Payload{}, ErrMistyped
		}
		vals = append(vals, i)
		if len(vals) > Symbols {
			return Payload{}, ErrMistyped
		}
	}
	if len(vals) != Symbols {
		return Payload{}, ErrMistyped
	}
	bits := make([]byte, 0, 80)
	for _, v := range vals {
		for i := 4; i >= 0; i-- {
			bits = append(bits, byte(v>>i)&1)
		}
	}
	var p Payload
	for i, bit := range bits[:PayloadBits] {
		pos := PayloadBits - 1 - i
		p[len(p)-1-pos/8] |= bit << (pos % 8)
	}
	var c uint16
	for _, bit := range bits[PayloadBits:] {
		c = c<<1 | uint16(bit)
	}
	if crc10(kind, p) != c {
		return Payload{}, ErrMistyped
	}
	return p, nil
}
