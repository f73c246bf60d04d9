package personalize

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINRefused says what the card said: the tries left, or blocked; it
// leaves every other failure (a pulled card) to CardError.
func TestPINRefused(t *testing.T) {
	for _, tc := range []struct {
		err        error
		code, want string
		left       int
	}{
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: 2}, lanyard.EForbidden, "the current PIN is wrong: 2 tries left", 2},
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: 1}, lanyard.EForbidden, "1 try left", 1},
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: 0}, lanyard.EForbidden, "now blocked", 0},
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: -1}, lanyard.EForbidden, "the current PIN is wrong", -1},
		{fmt.Errorf("VERIFY: %w", piv.ErrBlocked), lanyard.EConflict, "is blocked", -1},
	} {
		err := PINRefused(tc.err, "the current PIN")
		if !lanyard.IsCode(err, tc.code) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("PINRefused(%v) = %v, want %s with %q", tc.err, err, tc.code, tc.want)
		}
		if n := PINTriesLeft(tc.err); n != tc.left {
			t.Errorf("PINTriesLeft(%v) = %d, want %d", tc.err, n, tc.left)
		}
	}
	if err := PINRefused(errors.New("card removed"), "the current PIN"); err != nil {
		t.Errorf("a pulled card is no refused PIN: %v", err)
	}
}
