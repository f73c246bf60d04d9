package vpcd

import (
	"errors"
	"fmt"
)

// maxATR is the longest ATR ISO 7816-3 allows (TS + 32 bytes) and the most
// pcscd accepts (MAX_ATR_SIZE); vpcd treats a longer one as no card.
const maxATR = 33

// CheckATR reports whether atr is an ATR that pcscd and its clients accept
// from a virtual card: well formed per ISO 7816-3 section 8 (TS, T0, the
// interface bytes announced by the Y nibbles, K historical bytes, and TCK
// whenever a protocol other than T=0 is indicated) and advertising T=1.
// A card without T=1 shows up in the reader but every client's connect
// fails, which is hard to diagnose from the client side; hence the check.
func CheckATR(atr []byte) error {
	if len(atr) < 2 || len(atr) > maxATR {
		return fmt.Errorf("vpcd: ATR is %d bytes; it must be 2 to %d", len(atr), maxATR)
	}
	if atr[0] != 0x3B && atr[0] != 0x3F {
		return fmt.Errorf("vpcd: ATR starts with TS=%02X; it must be 3B (direct) or 3F (inverse convention)", atr[0])
	}
	y := atr[1] >> 4
	historical := int(atr[1] & 0x0F)
	i := 2
	t1, tck := false, false
	for {
		// Skip TAi, TBi, TCi as announced by bits 5-7 of the Y nibble.
		for _, bit := range []byte{1, 2, 4} {
			if y&bit != 0 {
				i++
			}
		}
		if y&8 == 0 {
			break
		}
		if i >= len(atr) {
			return errors.New("vpcd: ATR is cut short in its interface bytes")
		}
		td := atr[i]
		i++
		switch td & 0x0F {
		case 0:
		case 1:
			t1, tck = true, true
		default:
			tck = true
		}
		y = td >> 4
	}
	want := i + historical
	if tck {
		want++
	}
	if len(atr) != want {
		return fmt.Errorf("vpcd: ATR is %d bytes but its T0 and TD bytes announce %d", len(atr), want)
	}
	if !t1 {
		return errors.New("vpcd: ATR does not advertise T=1 (no TDi with protocol 1); PC/SC clients connect with T=1 only")
	}
	// TCK: the XOR of T0 to TCK inclusive is zero (ISO 7816-3, 8.2.5).
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	if x != 0 {
		return fmt.Errorf("vpcd: ATR check byte TCK is %02X; it should be %02X", atr[len(atr)-1], atr[len(atr)-1]^x)
	}
	return nil
}
