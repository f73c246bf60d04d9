package apdu_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		cmd  apdu.Command
		want string
	}{
		{"case 1", apdu.Command{CLA: 0x00, INS: 0xA4, P1: 0x04, P2: 0x00}, "00A40400"},
		{"case 2 Le 1", apdu.Command{INS: 0xCB, Le: 1}, "00CB0000 01"},
		{"case 2 Le 255", apdu.Command{INS: 0xCB, Le: 255}, "00CB0000 FF"},
		{"case 2 Le 256 is 00", apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Le: 256}, "00CB3FFF 00"},
		{"case 3", apdu.Command{INS: 0x20, P2: 0x80, Data: []byte("123456\xff\xff")}, "00200080 08 313233343536FFFF"},
		{"case 3 empty data is case 1", apdu.Command{INS: 0x20, P2: 0x80, Data: []byte{}}, "00200080"},
		{"case 4", apdu.Command{INS: 0xA4, P1: 0x04, Data: mustHex(t, "A000000308"), Le: 256}, "00A40400 05 A000000308 00"},
		{"case 4 Le 8", apdu.Command{CLA: 0x10, INS: 0xDB, Data: []byte{1}, Le: 8}, "10DB0000 01 01 08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("Bytes() = %X, want %X", got, want)
			}
		})
	}
}

func TestCommandBytesMaxData(t *testing.T) {
	got, err := apdu.Command{INS: 0xDB, Data: seq(255), Le: 256}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4+1+255+1 || got[4] != 0xFF || got[len(got)-1] != 0x00 {
		t.Fatalf("Bytes() = %d bytes, Lc %02X, Le %02X", len(got), got[4], got[len(got)-1])
	}
}

func TestCommandBytesRejectsWhatShortAPDUsCannotCarry(t *testing.T) {
	tests := []struct {
		name string
		cmd  apdu.Command
	}{
		{"256 data bytes", apdu.Command{Data: seq(256)}},
		{"Le 257", apdu.Command{Le: 257}},
		{"Le 65536", apdu.Command{Le: 65536}},
		{"negative Le", apdu.Command{Le: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := tt.cmd.Bytes(); err == nil {
				t.Fatalf("Bytes() = %X, want an error", b)
			}
		})
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want apdu.Command
	}{
		{"case 1", "00A40400", apdu.Command{INS: 0xA4, P1: 0x04}},
		{"case 2S", "00CB3FFF 08", apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Le: 8}},
		{"case 2S Le 00", "00C00000 00", apdu.Command{INS: 0xC0, Le: 256}},
		{"case 3S", "00200080 03 313233", apdu.Command{INS: 0x20, P2: 0x80, Data: []byte("123")}},
		{"case 3S chained", "10DB3FFF 02 5C03", apdu.Command{CLA: 0x10, INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03}}},
		{"case 4S", "00A40400 05 A000000308 00", apdu.Command{INS: 0xA4, P1: 0x04, Data: mustHex(t, "A000000308"), Le: 256}},
		{"case 4S Lc 1", "00870000 01 7C 10", apdu.Command{INS: 0x87, Data: []byte{0x7C}, Le: 16}},
		{"case 2E", "00CB3FFF 00 0400", apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Le: 1024}},
		{"case 2E Le 0000", "00CB3FFF 00 0000", apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Le: 65536}},
		{"case 3E", "00DB3FFF 00 0002 5C03", apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03}}},
		{"case 4E", "00DB3FFF 00 0001 AA 0100", apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte{0xAA}, Le: 256}},
		{"case 4E Le 0000", "00DB3FFF 00 0001 AA 0000", apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: []byte{0xAA}, Le: 65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apdu.ParseCommand(mustHex(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !sameCommand(got, tt.want) {
				t.Fatalf("ParseCommand = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCommandLongForms(t *testing.T) {
	// 255 data bytes still fit the short form; 256 need the extended one.
	short := append(append(mustHex(t, "00DB3FFF FF"), seq(255)...), 0x00)
	c, err := apdu.ParseCommand(short)
	if err != nil || len(c.Data) != 255 || c.Le != 256 {
		t.Fatalf("short 255: %d data bytes, Le %d, err %v", len(c.Data), c.Le, err)
	}
	want := apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: seq(apdu.MaxExtendedData), Le: apdu.MaxExtendedLe}
	c, err = apdu.ParseCommand(encodeExtended(want))
	if err != nil || !sameCommand(c, want) {
		t.Fatalf("extended 65535: %d data bytes, Le %d, err %v", len(c.Data), c.Le, err)
	}
}

func TestParseCommandRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"3 bytes", "00A404"},
		{"Lc 5, 4 bytes", "00A40400 05 A0000003"},
		{"Lc 5, 7 bytes", "00A40400 05 A000000308 0000"},
		{"Lc 2, 1 byte", "00A40400 02 AA"},
		{"00 then one byte", "00A40400 00 01"},
		{"extended Lc 0000 with data", "00A40400 00 0000 AA"},
		{"extended Lc 0000 then an Le", "00A40400 00 0000 0100"},
		{"extended Lc 2, 1 byte", "00A40400 00 0002 AA"},
		{"extended Lc 2, 3 bytes", "00A40400 00 0002 AABBCC"},
		{"extended Lc 1, one Le byte", "00A40400 00 0001 AA 01"},
		{"extended Lc 1, three Le bytes", "00A40400 00 0001 AA 010000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := apdu.ParseCommand(mustHex(t, tt.in))
			if !errors.Is(err, apdu.ErrMalformed) {
				t.Fatalf("ParseCommand = %+v, %v; want ErrMalformed", c, err)
			}
		})
	}
}

func TestParseCommandCopiesData(t *testing.T) {
	in := mustHex(t, "00200080 03 313233")
	c, err := apdu.ParseCommand(in)
	if err != nil {
		t.Fatal(err)
	}
	in[5] = 'x'
	if string(c.Data) != "123" {
		t.Fatalf("Data changed with the input: %q", c.Data)
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 255} {
		for _, le := range []int{0, 1, 255, 256} {
			want := apdu.Command{CLA: 0x10, INS: 0x87, P1: 0x11, P2: 0x9A, Data: seq(n), Le: le}
			if n == 0 {
				want.Data = nil
			}
			b, err := want.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			got, err := apdu.ParseCommand(b)
			if err != nil || !sameCommand(got, want) {
				t.Fatalf("Nc %d Le %d: ParseCommand(Bytes()) = %+v, %v", n, le, got, err)
			}
		}
	}
}

func TestCommandChained(t *testing.T) {
	for cla, want := range map[byte]bool{0x00: false, 0x10: true, 0x0C: false, 0x1C: true, 0x80: false, 0x90: true} {
		if got := (apdu.Command{CLA: cla}).Chained(); got != want {
			t.Errorf("CLA %02X: Chained() = %v, want %v", cla, got, want)
		}
	}
}
