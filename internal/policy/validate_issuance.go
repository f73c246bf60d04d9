package policy

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PIN length bounds shared by card initialization and random PINs; the
// same range card types accept (lanyard.CardType.Validate).
const (
	MinPINLength = 4
	MaxPINLength = 16
)

// maxRetries is the largest retry counter a PIV card can hold (one byte).
const maxRetries = 255

func checkInitialization(in *lanyard.InitializationSettings) *lanyard.Error {
	if in.PINRetries < 0 || in.PINRetries > maxRetries {
		return invalid(labelInit+" → PIN retries", "must be 0–%d (0 = the card type's value)", maxRetries)
	}
	if in.PUKRetries < 0 || in.PUKRetries > maxRetries {
		return invalid(labelInit+" → PUK retries", "must be 0–%d (0 = the card type's value)", maxRetries)
	}
	if !pinLengthOK(in.PINMinLength) {
		return invalid(labelInit+" → Minimum PIN length", "must be %d–%d (0 = the card type's value)", MinPINLength, MaxPINLength)
	}
	if !pinLengthOK(in.PINMaxLength) {
		return invalid(labelInit+" → Maximum PIN length", "must be %d–%d (0 = the card type's value)", MinPINLength, MaxPINLength)
	}
	// Only comparable when both are set; 0 defers to the card type.
	if in.PINMinLength != 0 && in.PINMaxLength != 0 && in.PINMinLength > in.PINMaxLength {
		return invalid(labelInit+" → PIN length", "the minimum (%d) is greater than the maximum (%d)", in.PINMinLength, in.PINMaxLength)
	}
	switch in.AdminKey {
	case lanyard.AdminKeyFromCardType, lanyard.AdminKeyKeep:
	default:
		return invalid(labelInit+" → Admin key handling", "unknown value %q; use %q or %q", in.AdminKey, lanyard.AdminKeyFromCardType, lanyard.AdminKeyKeep)
	}
	return nil
}

// pinLengthOK accepts 0 (use the card type's value) or a length in range.
func pinLengthOK(n int) bool { return n == 0 || n >= MinPINLength && n <= MaxPINLength }

// allPINGroups lists the groups in the order the console shows them.
var allPINGroups = []lanyard.PINCharGroup{lanyard.PINDigits, lanyard.PINLower, lanyard.PINUpper, lanyard.PINSpecial}

// checkRandomPIN validates the random PIN options; RandomPIN relies on it.
// Digits only is a valid choice: it is what PIN pads and many PIV
// middlewares expect.
func checkRandomPIN(r *lanyard.RandomPINSettings) *lanyard.Error {
	if r.Length < MinPINLength || r.Length > MaxPINLength {
		return invalid(labelRandomPIN, "length must be %d–%d", MinPINLength, MaxPINLength)
	}
	if len(r.Groups) == 0 {
		return invalid(labelRandomPIN, "choose at least one character group")
	}
	for i, g := range r.Groups {
		if !slices.Contains(allPINGroups, g) {
			return invalid(labelRandomPIN, "unknown character group %q; use digits, lower, upper or special", g)
		}
		if slices.Contains(r.Groups[:i], g) {
			return invalid(labelRandomPIN, "character group %q is listed twice", g)
		}
	}
	switch r.MailTo {
	case lanyard.PINMailNobody, lanyard.PINMailUser, lanyard.PINMailManager, lanyard.PINMailBoth:
	default:
		return invalid(labelRandomPIN, "unknown e-mail recipient %q; use none, user, manager or user_and_manager", r.MailTo)
	}
	return nil
}
