package policy

import (
	"errors"
	"io"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Characters of each PIN group. The special characters avoid space,
// quotes, backslash and backtick, which get lost or mangled when a PIN is
// shown in a page, pasted into a shell or sent by e-mail. All are
// printable ASCII, as SP 800-73-4 part 2, 3.2.1 requires of PIV PINs.
var pinAlphabet = map[lanyard.PINCharGroup]string{
	lanyard.PINDigits:  "0123456789",
	lanyard.PINLower:   "abcdefghijklmnopqrstuvwxyz",
	lanyard.PINUpper:   "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
	lanyard.PINSpecial: "!#$%&*+-.:=?@_",
}

// maxPINAttempts bounds the whole-PIN rejection loop. The worst case (4
// characters, all 4 groups) accepts about 7% of candidates, so 1000
// attempts fail with probability below 1e-30: hitting the bound means the
// random source is broken, not unlucky.
const maxPINAttempts = 1000

// RandomPIN returns a PIN for "Set random user PIN", drawn from r (pass
// crypto/rand.Reader; tests pass a deterministic reader).
//
// The PIN is uniform over all PINs of the configured length that use only
// the selected groups and contain at least one character of each: each
// character is drawn uniformly from the union of the groups (rejection
// sampling on bytes, so no character is favoured by a modulo), and a PIN
// that misses a group is discarded as a whole. Forcing one character per
// group into fixed positions, or patching a PIN afterwards, would make
// some PINs more likely than others.
func RandomPIN(s lanyard.RandomPINSettings, r io.Reader) (string, error) {
	if err := checkRandomPIN(&s); err != nil {
		return "", err
	}
	var alphabet strings.Builder
	for _, g := range s.Groups {
		alphabet.WriteString(pinAlphabet[g])
	}
	chars := alphabet.String()
	src := &byteSource{r: r}
	pin := make([]byte, s.Length)
	for range maxPINAttempts {
		for i := range pin {
			n, err := src.intn(len(chars))
			if err != nil {
				return "", lanyard.Wrap(lanyard.EInternal, err, "cannot read random data for the PIN")
			}
			pin[i] = chars[n]
		}
		if hasEveryGroup(pin, s.Groups) {
			return string(pin), nil
		}
	}
	return "", lanyard.Errorf(lanyard.EInternal, "random source produced no acceptable PIN in %d attempts", maxPINAttempts)
}

func hasEveryGroup(pin []byte, groups []lanyard.PINCharGroup) bool {
	for _, g := range groups {
		if !strings.ContainsAny(string(pin), pinAlphabet[g]) {
			return false
		}
	}
	return true
}

// byteSource reads random bytes in blocks, so that a PIN costs a few reads
// of r rather than one per character.
type byteSource struct {
	r   io.Reader
	buf [64]byte
	n   int // unread bytes at the end of buf
}

// maxRejects bounds consecutive rejected bytes. A byte is rejected with
// probability below 1/2 for any n, so 1000 rejections in a row mean a
// broken source; without the bound a constant source would hang.
const maxRejects = 1000

// intn returns a uniform integer in [0, n) for 0 < n <= 256. Bytes at or
// above the largest multiple of n are rejected: taking them modulo n would
// favour the small values.
func (s *byteSource) intn(n int) (int, error) {
	limit := 256 - 256%n
	for range maxRejects {
		if s.n == 0 {
			if _, err := io.ReadFull(s.r, s.buf[:]); err != nil {
				return 0, err
			}
			s.n = len(s.buf)
		}
		b := int(s.buf[len(s.buf)-s.n])
		s.n--
		if b < limit {
			return b % n, nil
		}
	}
	return 0, errors.New("random source keeps producing out-of-range bytes")
}
