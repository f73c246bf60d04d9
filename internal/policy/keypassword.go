package policy

import (
	"unicode"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Key container password bounds. The upper bound keeps the password
// within what PKCS#12 tools accept on a line; the lower one is the
// smallest minimum a policy may set.
const (
	DefaultKeyPasswordMin = 8
	MinKeyPasswordLength  = 4
	MaxKeyPasswordLength  = 128
)

func checkKeyPasswordSettings(k *lanyard.KeyPasswordSettings) *lanyard.Error {
	if k.MinLength != 0 && (k.MinLength < MinKeyPasswordLength || k.MinLength > MaxKeyPasswordLength) {
		return invalid(labelKeyPass, "minimum length must be %d–%d (0 = %d)", MinKeyPasswordLength, MaxKeyPasswordLength, DefaultKeyPasswordMin)
	}
	if k.MinClasses < 0 || k.MinClasses > 4 {
		return invalid(labelKeyPass, "character classes must be 0–4 (lower case, upper case, digits, others)")
	}
	return nil
}

// KeyPasswordRule describes the rules in words, for the dialog.
func KeyPasswordRule(k lanyard.KeyPasswordSettings) (minLength, minClasses int) {
	minLength = k.MinLength
	if minLength == 0 {
		minLength = DefaultKeyPasswordMin
	}
	return minLength, k.MinClasses
}

// CheckKeyPassword checks a software store's key container password
// against the policy's rules. required says whether an empty password is
// refused (a template prompts for one, or the policy always asks). A
// password is Unicode text without control characters within the Basic
// Multilingual Plane: PKCS#12 encodes it as a BMPString (RFC 7292,
// appendix B.1).
func CheckKeyPassword(k lanyard.KeyPasswordSettings, password string, required bool) error {
	if password == "" {
		if required {
			return lanyard.Errorf(lanyard.EInvalid, "a key container password is required for this certificate")
		}
		return nil
	}
	if !utf8.ValidString(password) {
		return lanyard.Errorf(lanyard.EInvalid, "the key container password is not valid text")
	}
	minLength, minClasses := KeyPasswordRule(k)
	n := utf8.RuneCountInString(password)
	if n < minLength || n > MaxKeyPasswordLength {
		return lanyard.Errorf(lanyard.EInvalid, "the key container password must have %d to %d characters", minLength, MaxKeyPasswordLength)
	}
	var lower, upper, digit, other bool
	for _, r := range password {
		switch {
		case unicode.IsControl(r) || r > 0xFFFF:
			return lanyard.Errorf(lanyard.EInvalid, "the key container password contains a character it cannot hold (control characters and characters outside the Basic Multilingual Plane)")
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < minClasses {
		return lanyard.Errorf(lanyard.EInvalid, "the key container password must mix at least %d of: lower case letters, upper case letters, digits, other characters", minClasses)
	}
	return nil
}
