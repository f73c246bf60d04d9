package apdu

import (
	"bytes"
	"fmt"
)

// Limits of the length fields (ISO/IEC 7816-4:2005 5.1).
const (
	MaxShortData    = 255   // Nc of a short command APDU
	MaxShortLe      = 256   // Ne of a short command APDU, encoded as 00
	MaxExtendedData = 65535 // Nc of an extended command APDU
	MaxExtendedLe   = 65536 // Ne of an extended command APDU, encoded as 0000
)

// Instruction and class bits the exchange rules use.
const (
	// InsGetResponse is GET RESPONSE (7.6.1), which fetches the bytes a
	// 61XX announced.
	InsGetResponse byte = 0xC0

	// ClaChaining is the class bit b5 that marks every command of a chain
	// but the last (5.1.1.1).
	ClaChaining byte = 0x10
)

// Command is a command APDU (ISO/IEC 7816-4:2005 5.1): a four-byte header,
// an optional data field and an optional expected response length.
type Command struct {
	CLA, INS, P1, P2 byte

	// Data is the command data field (Nc = len(Data) bytes); nil or empty
	// means no Lc field.
	Data []byte

	// Le is Ne, the most response bytes the command expects. 0 means no
	// Le field (cases 1 and 3). A short APDU carries 1 to 256, 256 being
	// encoded as 00; an extended one up to 65536.
	Le int
}

// Chained reports whether c is a block of a command chain other than the
// last (class bit b5 set, 5.1.1.1).
func (c Command) Chained() bool { return c.CLA&ClaChaining != 0 }

// Bytes encodes c as a short command APDU (5.1, cases 1, 2S, 3S and 4S).
// It fails when Data is longer than 255 bytes or Le is outside 0 to 256;
// Client.Send splits longer data by command chaining.
func (c Command) Bytes() ([]byte, error) {
	if len(c.Data) > MaxShortData {
		return nil, fmt.Errorf("apdu: %d data bytes do not fit a short command APDU (at most %d)", len(c.Data), MaxShortData)
	}
	if c.Le < 0 || c.Le > MaxShortLe {
		return nil, fmt.Errorf("apdu: Le %d does not fit a short command APDU (0 to %d)", c.Le, MaxShortLe)
	}
	n := 4
	if len(c.Data) > 0 {
		n += 1 + len(c.Data)
	}
	if c.Le > 0 {
		n++
	}
	b := make([]byte, 0, n)
	b = append(b, c.CLA, c.INS, c.P1, c.P2)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		b = append(b, byte(c.Le%256)) // 256 is encoded as 00
	}
	return b, nil
}

// ParseCommand decodes a command APDU in short or extended form (5.1). It
// rejects, with an error wrapping ErrMalformed, anything whose length
// fields disagree with its size; a card answers those with SWWrongLength.
// The returned Data is a copy.
//
// The forms, after the header CLA INS P1 P2:
//
//	(nothing)            case 1
//	Le                   case 2S, Le 00 = 256
//	Lc Data              case 3S, Lc 01..FF
//	Lc Data Le           case 4S
//	00 Le1 Le2           case 2E, Le 0000 = 65536
//	00 Lc1 Lc2 Data      case 3E, Lc 0001..FFFF
//	00 Lc1 Lc2 Data Le1 Le2  case 4E
//
// ParseCommand checks only the structure; the class and instruction bytes
// are for the card to judge.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, fmt.Errorf("%w command: %d bytes, shorter than the 4-byte header", ErrMalformed, len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2S
		c.Le = shortLe(body[0])
		return c, nil
	case body[0] != 0: // cases 3S and 4S
		nc := int(body[0])
		switch len(body) - 1 {
		case nc:
		case nc + 1:
			c.Le = shortLe(body[1+nc])
		default:
			return Command{}, fmt.Errorf("%w command: Lc %d, but %d bytes follow it", ErrMalformed, nc, len(body)-1)
		}
		c.Data = bytes.Clone(body[1 : 1+nc])
		return c, nil
	}

	// An extended length field: 00 and two bytes.
	if len(body) < 3 {
		return Command{}, fmt.Errorf("%w command: %d bytes after the header do not form a length field", ErrMalformed, len(body))
	}
	n := int(body[1])<<8 | int(body[2])
	if len(body) == 3 { // case 2E
		c.Le = extendedLe(n)
		return c, nil
	}
	if n == 0 {
		return Command{}, fmt.Errorf("%w command: extended Lc 0000 followed by %d bytes", ErrMalformed, len(body)-3)
	}
	rest := body[3:]
	switch len(rest) {
	case n: // case 3E
	case n + 2: // case 4E
		c.Le = extendedLe(int(rest[n])<<8 | int(rest[n+1]))
	default:
		return Command{}, fmt.Errorf("%w command: extended Lc %d, but %d bytes follow it", ErrMalformed, n, len(rest))
	}
	c.Data = bytes.Clone(rest[:n])
	return c, nil
}

func shortLe(b byte) int {
	if b == 0 {
		return MaxShortLe
	}
	return int(b)
}

func extendedLe(n int) int {
	if n == 0 {
		return MaxExtendedLe
	}
	return n
}
