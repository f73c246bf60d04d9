package builtin

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestRandomSerial(t *testing.T) {
	// All ones: the top bit must be cleared so the serial is positive and
	// its DER INTEGER needs no sign octet (RFC 5280 4.1.2.2).
	s, err := randomSerial(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
	if s.Cmp(want) != 0 {
		t.Fatalf("serial = %x, want %x", s, want)
	}
	// A zero draw is retried.
	in := append(make([]byte, 16), append([]byte{0x80}, make([]byte, 15)...)...)
	in[31] = 0x05
	s, err = randomSerial(bytes.NewReader(in))
	if err != nil || s.Cmp(big.NewInt(5)) != 0 {
		t.Fatalf("after a zero draw: serial = %v, %v; want 5", s, err)
	}
	// A reader of zeros is broken, not a source of serial 0.
	if _, err := randomSerial(bytes.NewReader(make([]byte, 1024))); !lanyard.IsCode(err, lanyard.EInternal) {
		t.Fatalf("zero reader: %v", err)
	}
	// A short reader fails.
	if _, err := randomSerial(bytes.NewReader(make([]byte, 8))); err == nil {
		t.Fatal("short reader: no error")
	}
}
