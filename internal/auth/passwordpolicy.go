package auth

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Password length bounds. Length is what makes a password hard to guess
// (NIST SP 800-63B, 5.1.1.2, asks for at least 8 and recommends allowing
// at least 64); 12 is OWASP's minimum for accounts without a second
// factor. The maximum only keeps hashing requests bounded; 256 bytes
// leaves room for any passphrase.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// CheckPassword judges a password a person chose. Lengths count bytes, so
// that the bound on the work per request holds for any script; for ASCII
// passwords bytes and characters are the same. Composition rules (a digit,
// a capital, …) are deliberately absent: they make passwords harder to
// remember without making them harder to guess (SP 800-63B, 5.1.1.2).
func CheckPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLen:
		return lanyard.Errorf(lanyard.EInvalid, "Password: use at least %d characters", MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return lanyard.Errorf(lanyard.EInvalid, "Password: use at most %d characters (fewer in scripts other than Latin)", MaxPasswordLen)
	}
	return nil
}
