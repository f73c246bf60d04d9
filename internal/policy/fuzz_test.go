package policy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// FuzzRandomPIN drives RandomPIN with arbitrary settings and an arbitrary,
// possibly short or constant, random stream. It must never panic or hang,
// and every PIN it returns must satisfy the settings.
func FuzzRandomPIN(f *testing.F) {
	f.Add(8, uint8(0b0001), []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	f.Add(4, uint8(0b1111), bytes.Repeat([]byte{0x41, 0x9f, 0x03, 0xe0}, 64))
	f.Add(16, uint8(0b0110), []byte{})
	f.Add(3, uint8(0), []byte{1})
	f.Fuzz(func(t *testing.T, length int, groups uint8, stream []byte) {
		s := lanyard.RandomPINSettings{Length: length, MailTo: lanyard.PINMailNobody}
		for i, g := range allPINGroups {
			if groups&(1<<i) != 0 {
				s.Groups = append(s.Groups, g)
			}
		}
		// Repeat the stream so that short inputs still exercise the loops,
		// bounded so that a stuck stream ends in an error, not a timeout.
		var r bytes.Reader
		if len(stream) > 0 {
			r.Reset(bytes.Repeat(stream, 64*1024/len(stream)+1))
		}
		pin, err := RandomPIN(s, &r)
		if err != nil {
			if pin != "" {
				t.Fatal("PIN returned with an error")
			}
			return
		}
		if len(pin) != length || length < MinPINLength || length > MaxPINLength {
			t.Fatalf("PIN %q for length %d", pin, length)
		}
		for _, g := range s.Groups {
			if !strings.ContainsAny(pin, pinAlphabet[g]) {
				t.Fatalf("PIN %q lacks group %s", pin, g)
			}
		}
		for _, c := range pin {
			ok := false
			for _, g := range s.Groups {
				ok = ok || strings.ContainsRune(pinAlphabet[g], c)
			}
			if !ok {
				t.Fatalf("PIN %q has %q outside the groups", pin, c)
			}
		}
	})
}
