package unblockcode

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func randomPayload(t testing.TB) Payload {
	var p Payload
	if _, err := rand.Read(p[:]); err != nil {
		t.Fatal(err)
	}
	p[0] &= 0x3F
	return p
}

// The CRC is CRC-10/ATM: its catalogue check value, the CRC of the ASCII
// string "123456789", is 0x199.
func TestCRCCheckValue(t *testing.T) {
	var bits []byte
	for _, c := range []byte("123456789") {
		for i := 7; i >= 0; i-- {
			bits = append(bits, c>>i&1)
		}
	}
	if got := crcBits(bits); got != 0x199 {
		t.Fatalf("CRC-10/ATM of 123456789 = %#x, want 0x199", got)
	}
}

func TestRoundTrip(t *testing.T) {
	for range 200 {
		p := randomPayload(t)
		for _, k := range []Kind{Challenge, Response} {
			code := Encode(k, p)
			if len(code) != 19 || strings.Count(code, "-") != 3 {
				t.Fatalf("code %q is not four groups of four", code)
			}
			got, err := Decode(k, code)
			if err != nil || got != p {
				t.Fatalf("Decode(Encode(%x)) = %x, %v", p, got, err)
			}
			// As people type it: lower case, no dashes, spaces, I/L for 1, O for 0.
			typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
			typed = strings.NewReplacer("1", "l", "0", "o").Replace(typed)
			if got, err := Decode(k, typed); err != nil || got != p {
				t.Fatalf("Decode(%q) = %x, %v", typed, got, err)
			}
		}
	}
	if got, err := Decode(Challenge, Encode(Challenge, Payload{})); err != nil || got != (Payload{}) {
		t.Fatalf("all-zero payload: %x, %v", got, err)
	}
}

// Every wrong symbol and every swap of two neighbouring symbols is
// caught, for many payloads (the CRC's burst guarantee, checked).
func TestTyposDetected(t *testing.T) {
	for range 100 {
		p := randomPayload(t)
		code := strings.ReplaceAll(Encode(Response, p), "-", "")
		for i := range Symbols {
			for _, r := range alphabet {
				if byte(r) == code[i] {
					continue
				}
				typo := code[:i] + string(r) + code[i+1:]
				if _, err := Decode(Response, typo); !errors.Is(err, ErrMistyped) {
					t.Fatalf("%s → %s (symbol %d) accepted", code, typo, i)
				}
			}
			if i+1 < Symbols && code[i] != code[i+1] {
				swap := code[:i] + string(code[i+1]) + string(code[i]) + code[i+2:]
				if _, err := Decode(Response, swap); !errors.Is(err, ErrMistyped) {
					t.Fatalf("%s → %s (swap at %d) accepted", code, swap, i)
				}
			}
		}
	}
}

// A challenge typed into the response field is always refused: the CRC is
// linear, so the two kinds' checks of one payload differ by the CRC of
// ('C' xor 'R') shifted past the payload, which the generator (with its
// constant term) never divides.
func TestKindsDiffer(t *testing.T) {
	rejected := 0
	for i := range 64 {
		var p Payload
		p[8], p[7] = byte(i), byte(i*7)
		if _, err := Decode(Response, Encode(Challenge, p)); errors.Is(err, ErrMistyped) {
			rejected++
		}
	}
	if rejected != 64 {
		t.Fatalf("%d of 64 challenges accepted as responses", 64-rejected)
	}
}

func TestBadInput(t *testing.T) {
	good := Encode(Challenge, Payload{1, 2, 3})
	for _, s := range []string{"", "7K3M", good + "A", strings.Replace(good, "-", "U", 1), "ÄÄÄÄ-ÄÄÄÄ-ÄÄÄÄ-ÄÄÄÄ", strings.Repeat("0", 17)} {
		if _, err := Decode(Challenge, s); !errors.Is(err, ErrMistyped) {
			t.Errorf("Decode(%q) = %v, want ErrMistyped", s, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(Challenge, Payload{0x3F, 1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add("7K3M-9QXA-2D4F-H8TZ")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Decode(Challenge, s)
		if err != nil {
			return
		}
		if !p.Valid() {
			t.Fatalf("Decode(%q) gave a payload wider than 70 bits: %x", s, p)
		}
		if again, err := Decode(Challenge, Encode(Challenge, p)); err != nil || again != p {
			t.Fatalf("re-encoding %x: %x, %v", p, again, err)
		}
	})
}
