package policy

import (
	"bytes"
	crand "crypto/rand"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// seeded returns a deterministic random stream, so that the statistical
// tests below give the same verdict on every run.
func seeded(n byte) io.Reader { return rand.NewChaCha8([32]byte{n}) }

func pinSettings(length int, groups ...lanyard.PINCharGroup) lanyard.RandomPINSettings {
	return lanyard.RandomPINSettings{Length: length, Groups: groups, MailTo: lanyard.PINMailNobody}
}

var (
	digits  = lanyard.PINDigits
	lower   = lanyard.PINLower
	upper   = lanyard.PINUpper
	special = lanyard.PINSpecial
)

func TestRandomPINShape(t *testing.T) {
	tests := []lanyard.RandomPINSettings{
		pinSettings(4, digits),
		pinSettings(8, digits),
		pinSettings(16, lower),
		pinSettings(4, digits, lower, upper, special), // tightest: every character must be a different group
		pinSettings(6, upper, special),
		pinSettings(12, special, digits, lower),
	}
	for _, s := range tests {
		var allowed string
		for _, g := range s.Groups {
			allowed += pinAlphabet[g]
		}
		for i := range 2000 {
			pin, err := RandomPIN(s, seeded(byte(i)))
			if err != nil {
				t.Fatalf("%v: %v", s.Groups, err)
			}
			if len(pin) != s.Length {
				t.Fatalf("%v: %q has length %d, want %d", s.Groups, pin, len(pin), s.Length)
			}
			if strings.Trim(pin, allowed) != "" {
				t.Fatalf("%v: %q has characters outside the groups", s.Groups, pin)
			}
			for _, g := range s.Groups {
				if !strings.ContainsAny(pin, pinAlphabet[g]) {
					t.Fatalf("%v: %q has no %s character", s.Groups, pin, g)
				}
			}
			if !lanyard.ValidPIN(pin, 4, 16) {
				t.Fatalf("%q is not a valid PIV PIN", pin)
			}
		}
	}
}

// The same seed gives the same PIN, and crypto/rand works as a source.
func TestRandomPINSources(t *testing.T) {
	s := pinSettings(8, digits, upper)
	a, _ := RandomPIN(s, seeded(42))
	b, _ := RandomPIN(s, seeded(42))
	c, _ := RandomPIN(s, seeded(43))
	if a != b || a == c {
		t.Fatalf("seeded PINs: %q %q %q", a, b, c)
	}
	if _, err := RandomPIN(s, crand.Reader); err != nil {
		t.Fatalf("crypto/rand: %v", err)
	}
}

// Digits must be equally likely. A modulo reduction of bytes (256 % 10 =
// 6, so 0–5 come up 26/256 against 25/256) gives chi² ≈ 70 at this sample
// size, far above the 0.1% critical value of 27.88 for 9 degrees of
// freedom; an unbiased generator stays below it for this fixed seed.
func TestRandomPINDigitsUniform(t *testing.T) {
	const pins = 25000
	var counts [10]int
	src := seeded(1)
	for range pins {
		pin, err := RandomPIN(pinSettings(8, digits), src)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []byte(pin) {
			counts[c-'0']++
		}
	}
	if chi2 := chiSquare(counts[:]); chi2 > 27.88 {
		t.Fatalf("digit counts %v: chi² = %.1f > 27.88", counts, chi2)
	}
}

// Whole-PIN rejection makes every valid PIN equally likely. For
// digits+upper and length 4 there are 36⁴−26⁴−10⁴ = 1212640 valid PINs, of
// which 10·(36³−10³) = 456560 start with a digit: p ≈ 0.3765. Seeding one
// character per group and shuffling gives (1 + 2·10/36)/4 ≈ 0.3889 (eleven
// standard deviations away at this sample size); putting the digit first
// gives 1.
func TestRandomPINUniformOverValidPINs(t *testing.T) {
	const n = 200000
	src := seeded(2)
	first := 0
	for range n {
		pin, err := RandomPIN(pinSettings(4, digits, upper), src)
		if err != nil {
			t.Fatal(err)
		}
		if pin[0] >= '0' && pin[0] <= '9' {
			first++
		}
	}
	const want = 456560.0 / 1212640.0
	// One standard deviation is sqrt(p(1−p)/n) ≈ 0.0011.
	if got := float64(first) / n; got < want-0.005 || got > want+0.005 {
		t.Fatalf("first character is a digit in %.4f of PINs, want %.4f", got, want)
	}
}

// Bytes at or above 250 must be skipped for a 10-character alphabet, not
// reduced modulo 10 (255 % 10 would give '5').
func TestRandomPINRejectsHighBytes(t *testing.T) {
	stream := bytes.Repeat([]byte{255, 7, 250, 8, 9, 3}, 20)
	pin, err := RandomPIN(pinSettings(4, digits), bytes.NewReader(stream))
	if err != nil || pin != "7893" {
		t.Fatalf("RandomPIN = %q, %v; want 7893", pin, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source gone") }

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func TestRandomPINErrors(t *testing.T) {
	tests := []struct {
		name string
		s    lanyard.RandomPINSettings
		r    io.Reader
		code string
		msg  string
	}{
		{"length 3", pinSettings(3, digits), seeded(0), lanyard.EInvalid, "length must be 4–16"},
		{"length 17", pinSettings(17, digits), seeded(0), lanyard.EInvalid, "length must be 4–16"},
		{"no groups", pinSettings(8), seeded(0), lanyard.EInvalid, "at least one character group"},
		{"unknown group", pinSettings(8, "hex"), seeded(0), lanyard.EInvalid, "unknown character group"},
		{"reader fails", pinSettings(8, digits), failingReader{}, lanyard.EInternal, "cannot read random data"},
		{"reader runs dry", pinSettings(8, digits), bytes.NewReader(make([]byte, 10)), lanyard.EInternal, "cannot read random data"},
		// All zero bytes give "0000…", which never holds a lower-case letter:
		// the loop must give up instead of spinning.
		{"stuck source", pinSettings(8, digits, lower), constReader(0), lanyard.EInternal, "no acceptable PIN"},
		// 255 is out of range for every alphabet: the byte loop must give up.
		{"all bytes rejected", pinSettings(8, digits), constReader(255), lanyard.EInternal, "cannot read random data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin, err := RandomPIN(tt.s, tt.r)
			if pin != "" {
				t.Errorf("PIN %q returned with an error", pin)
			}
			wantError(t, err, tt.code, tt.msg)
		})
	}
}

func chiSquare(counts []int) float64 {
	total := 0
	for _, c := range counts {
		total += c
	}
	exp := float64(total) / float64(len(counts))
	var chi2 float64
	for _, c := range counts {
		d := float64(c) - exp
		chi2 += d * d / exp
	}
	return chi2
}
