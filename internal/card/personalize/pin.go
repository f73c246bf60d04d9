package personalize

import (
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINRefused is the error to show for a User PIN the card refused, or nil
// when err is not such a refusal. The card decides (SP 800-73-4 part 2,
// 3.2.1): 63CX says how many tries are left, 6983 that the PIN is
// blocked; what names the PIN given ("the current PIN").
func PINRefused(err error, what string) error {
	var ae *piv.AuthError
	if !errors.As(err, &ae) {
		if errors.Is(err, piv.ErrBlocked) {
			return lanyard.Wrap(lanyard.EConflict, err, "the card's PIN is blocked: reset it (Reset PIN)")
		}
		return nil
	}
	var msg string
	switch {
	case ae.Retries == 0:
		msg = what + " is wrong, and the PIN is now blocked: reset it (Reset PIN)"
	case ae.Retries < 0:
		msg = what + " is wrong"
	case ae.Retries == 1:
		msg = what + " is wrong: 1 try left before the PIN is blocked"
	default:
		msg = fmt.Sprintf("%s is wrong: %d tries left before the PIN is blocked", what, ae.Retries)
	}
	return lanyard.Wrap(lanyard.EForbidden, err, msg)
}

// PINTriesLeft is the tries left a refusal of a PIN reports, -1 if it
// reports none.
func PINTriesLeft(err error) int {
	var ae *piv.AuthError
	if errors.As(err, &ae) {
		return ae.Retries
	}
	return -1
}
