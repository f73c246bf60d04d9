package lanyard_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestParseATRPattern(t *testing.T) {
	const bad = "want 1-33 hex bytes"
	ff := byte(0xff)
	tests := []struct {
		name        string
		p           string
		value, mask []byte
		wantErr     string
	}{
		{"spaces", "3b f8 13 00", []byte{0x3b, 0xf8, 0x13, 0x00}, []byte{ff, ff, ff, ff}, ""},
		{"colons", "3b:f8:13:00", []byte{0x3b, 0xf8, 0x13, 0x00}, []byte{ff, ff, ff, ff}, ""},
		{"no separators", "3bf81300", []byte{0x3b, 0xf8, 0x13, 0x00}, []byte{ff, ff, ff, ff}, ""},
		{"upper case", "3B F8 AB CD EF", []byte{0x3b, 0xf8, 0xab, 0xcd, 0xef}, []byte{ff, ff, ff, ff, ff}, ""},
		{"mixed separators and padding", "  3b: f8 ::13  ", []byte{0x3b, 0xf8, 0x13}, []byte{ff, ff, ff}, ""},
		{"all hex digits", "01 23 45 67 89 ab cd ef", []byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}, bytes.Repeat([]byte{ff}, 8), ""},
		{"wildcards", "3b xx 13 xx", []byte{0x3b, 0, 0x13, 0}, []byte{ff, 0, ff, 0}, ""},
		{"wildcards in any case", "XX xX Xx", []byte{0, 0, 0}, []byte{0, 0, 0}, ""},
		{"one byte", "3b", []byte{0x3b}, []byte{ff}, ""},
		{"33 bytes", strings.Repeat("ff ", 33), bytes.Repeat([]byte{ff}, 33), bytes.Repeat([]byte{ff}, 33), ""},
		{"33 wildcards", strings.Repeat("xx", 33), make([]byte, 33), make([]byte, 33), ""},

		{"empty", "", nil, nil, bad},
		{"only separators", " : : ", nil, nil, bad},
		{"odd length", "3b f", nil, nil, bad},
		{"single digit", "3", nil, nil, bad},
		{"34 bytes", strings.Repeat("ff", 34), nil, nil, bad},
		{"bad hex digit", "3b g0", nil, nil, `bad hex byte "g0"`},
		{"bad hex low digit", "3b 0z", nil, nil, `bad hex byte "0z"`},
		{"half wildcard high", "3b x0", nil, nil, `bad hex byte "x0"`},
		{"half wildcard low", "3b 0x", nil, nil, `bad hex byte "0x"`},
		{"0x prefix", "0x3b", nil, nil, `bad hex byte "0x"`},
		{"tab separator", "3b\tf8 1", nil, nil, "bad hex byte"},
		{"dash separator", "3b-f8-10", nil, nil, `bad hex byte "-f"`},
		{"wildcard ?", "3b ??", nil, nil, "bad hex byte"},
		{"non-ASCII", "3b é", nil, nil, "bad hex byte"},
		{"control bytes are not digits", "\x13\x10", nil, nil, "bad hex byte"},
		{"NUL bytes", "3b\x00\x00", nil, nil, "bad hex byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, m, err := lanyard.ParseATRPattern(tt.p)
			checkInvalid(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if v != nil || m != nil {
					t.Errorf("refusal returned value %x mask %x", v, m)
				}
				return
			}
			if !bytes.Equal(v, tt.value) || !bytes.Equal(m, tt.mask) {
				t.Errorf("ParseATRPattern(%q) = %x / %x, want %x / %x", tt.p, v, m, tt.value, tt.mask)
			}
		})
	}
}

func TestMatchATR(t *testing.T) {
	yubi := []byte{0x3b, 0xfd, 0x13, 0x00, 0x00, 0x81, 0x31, 0xfe, 0x15, 0x80, 0x73, 0xc0, 0x21, 0xc0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4b, 0x65, 0x79, 0x40}
	short := []byte{0x3b, 0xf8, 0x13, 0x00}
	tests := []struct {
		name     string
		patterns []string
		atr      []byte
		want     bool
	}{
		{"exact", []string{yubiKeyATR}, yubi, true},
		{"exact, colons and upper case", []string{"3B:F8:13:00"}, short, true},
		{"exact, no separators", []string{"3bf81300"}, short, true},
		{"wildcard", []string{"3b f8 xx 00"}, short, true},
		{"all wildcards", []string{"xx xx xx xx"}, short, true},
		{"one byte differs", []string{"3b f8 13 01"}, short, false},
		{"one byte differs before wildcard", []string{"3a f8 xx 00"}, short, false},
		{"ATR shorter than pattern", []string{"3b f8 13 00 00"}, short, false},
		{"ATR longer than pattern", []string{"3b f8 13"}, short, false},
		{"wildcards do not stretch", []string{"3b f8 xx"}, short, false},
		{"second pattern matches", []string{"3b f8 13 ff", "3b f8 13 xx"}, short, true},
		{"bad pattern is skipped", []string{"3b f8 13 0", "zz", "3b f8 13 00"}, short, true},
		{"only bad patterns", []string{"3b f8 13 0", "3b f8 13 zz"}, short, false},
		{"no patterns", nil, short, false},
		{"empty ATR", []string{"3b"}, nil, false},
		{"empty ATR, empty pattern", []string{""}, nil, false},
		{"empty ATR, no patterns", nil, []byte{}, false},
	}
	for _, tt := range tests {
		if got := lanyard.MatchATR(tt.patterns, tt.atr); got != tt.want {
			t.Errorf("%s: MatchATR(%q, % x) = %v, want %v", tt.name, tt.patterns, tt.atr, got, tt.want)
		}
	}
	// A wildcard matches every byte value; a fixed byte only itself.
	for b := 0; b < 256; b++ {
		atr := []byte{0x3b, byte(b), 0x13}
		if !lanyard.MatchATR([]string{"3b xx 13"}, atr) {
			t.Errorf("wildcard does not match % x", atr)
		}
		if got := lanyard.MatchATR([]string{"3b a5 13"}, atr); got != (b == 0xa5) {
			t.Errorf("MatchATR(3b a5 13, % x) = %v", atr, got)
		}
	}
}

// FuzzParseATRPattern: ParseATRPattern never panics; what it accepts is
// 1-33 bytes with a mask of 0x00 (wildcard) or 0xff per byte, and the
// pattern matches an ATR made of its own value bytes, whatever the
// wildcard positions hold, but not one with a fixed byte changed.
func FuzzParseATRPattern(f *testing.F) {
	for _, s := range []string{
		yubiKeyATR, "3B:F8:13:00:00:81:31:FE:xx", "xx", "3b", "3bf8", "3b f", "3b zz", "0x3b", "",
		strings.Repeat("ff", 33), strings.Repeat("ff", 34), "XX xX", "3b\tf8", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		v, m, err := lanyard.ParseATRPattern(p)
		if err != nil {
			if v != nil || m != nil || lanyard.ErrorCode(err) != lanyard.EInvalid {
				t.Fatalf("refusal %v returned value %x mask %x", err, v, m)
			}
			if lanyard.MatchATR([]string{p}, nil) {
				t.Fatal("a refused pattern matched")
			}
			return
		}
		if len(v) != len(m) || len(v) == 0 || len(v) > 33 {
			t.Fatalf("value %x, mask %x: lengths %d, %d", v, m, len(v), len(m))
		}
		atr := bytes.Clone(v)
		for i := range m {
			switch m[i] {
			case 0x00:
				if v[i] != 0 {
					t.Fatalf("wildcard byte %d has value %#x", i, v[i])
				}
				atr[i] = 0xa5
			case 0xff:
			default:
				t.Fatalf("mask byte %d is %#x", i, m[i])
			}
		}
		// 'x' is no hex digit: an accepted pattern holding one has a wildcard.
		if strings.ContainsAny(p, "xX") != bytes.Contains(m, []byte{0}) {
			t.Fatalf("pattern %q: mask %x", p, m)
		}
		if !lanyard.MatchATR([]string{p}, v) {
			t.Fatalf("pattern %q does not match its own value % x", p, v)
		}
		if !lanyard.MatchATR([]string{p}, atr) {
			t.Fatalf("pattern %q does not match % x (wildcards filled)", p, atr)
		}
		if lanyard.MatchATR([]string{p}, append(bytes.Clone(v), 0)) {
			t.Fatalf("pattern %q matches a longer ATR", p)
		}
		if i := bytes.IndexByte(m, 0xff); i >= 0 {
			atr[i] ^= 0x01
			if lanyard.MatchATR([]string{p}, atr) {
				t.Fatalf("pattern %q matches % x with fixed byte %d changed", p, atr, i)
			}
		}
	})
}
