package apdu_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// mustHex decodes hex with optional spaces.
func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// seq returns n bytes counting up from 0, wrapping at 256.
func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func sameCommand(a, b apdu.Command) bool {
	return a.CLA == b.CLA && a.INS == b.INS && a.P1 == b.P1 && a.P2 == b.P2 &&
		bytes.Equal(a.Data, b.Data) && a.Le == b.Le
}

// encodeExtended encodes c in extended form (ISO/IEC 7816-4:2005 5.1),
// independently of the package, to check ParseCommand.
func encodeExtended(c apdu.Command) []byte {
	b := []byte{c.CLA, c.INS, c.P1, c.P2}
	if len(c.Data) == 0 && c.Le == 0 {
		return b
	}
	b = append(b, 0)
	if len(c.Data) > 0 {
		b = append(b, byte(len(c.Data)>>8), byte(len(c.Data)))
		b = append(b, c.Data...)
	}
	if c.Le > 0 {
		le := c.Le % 65536
		b = append(b, byte(le>>8), byte(le))
	}
	return b
}
