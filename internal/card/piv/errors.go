package piv

import (
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// Errors for the status words a PIV card answers (SP 800-73-4 Part 2,
// section 3 and the status word table of 2.5). An error from a card
// command matches one of them with errors.Is and still wraps the
// *apdu.StatusError with the raw status word.
var (
	// ErrNotFound: the data object is empty or the key slot holds no key
	// (6A82, 6A88), or the card has no PIV application.
	ErrNotFound = errors.New("piv: not found")

	// ErrSecurityStatus: the command's access rule is not satisfied
	// (6982): verify the PIN or authenticate the management key first.
	ErrSecurityStatus = errors.New("piv: security status not satisfied")

	// ErrBlocked: the PIN or PUK is blocked (6983), or a wrong try just
	// used up its last retry (63C0; *AuthError matches ErrBlocked then).
	ErrBlocked = errors.New("piv: blocked")

	// ErrUnsupported: the card does not implement the instruction or
	// algorithm (6D00, 6E00, 6A81, 6882), or this package does not support
	// what was asked of it.
	ErrUnsupported = errors.New("piv: not supported")

	// ErrManagementKey: the card refused the management key (a wrong key,
	// or a key of another algorithm than the card's).
	ErrManagementKey = errors.New("piv: management key refused")

	// ErrCardAuthentication: in mutual authentication the card's answer to
	// our challenge was wrong. The card does not hold the key it claimed
	// to accept; it may be a counterfeit.
	ErrCardAuthentication = errors.New("piv: card failed to prove the management key")

	// ErrPINFormat: a PIN or PUK that cannot be sent, being too short,
	// longer than 8 bytes or not printable ASCII. Nothing was sent to the
	// card and no try was used.
	ErrPINFormat = errors.New("piv: PIN or PUK format")

	// ErrKeyMismatch: a signature the card made does not verify with the
	// public key the caller named, so the slot holds another key.
	ErrKeyMismatch = errors.New("piv: the slot's key does not match the public key")
)

// AuthError is a wrong PIN or PUK (63CX, SP 800-73-4 Part 2 3.2.1 to
// 3.2.3). When Retries is 0 the reference is now blocked and the error
// matches ErrBlocked.
type AuthError struct {
	// Ref is KeyPIN or KeyPUK.
	Ref KeyRef
	// Retries is the number of tries left, -1 when the card did not say
	// (6300).
	Retries int

	sw *apdu.StatusError
}

func (e *AuthError) Error() string {
	switch {
	case e.Retries < 0:
		return fmt.Sprintf("piv: wrong %s", e.Ref.String())
	case e.Retries == 0:
		return fmt.Sprintf("piv: wrong %s, now blocked", e.Ref.String())
	case e.Retries == 1:
		return fmt.Sprintf("piv: wrong %s, 1 try left", e.Ref.String())
	}
	return fmt.Sprintf("piv: wrong %s, %d tries left", e.Ref.String(), e.Retries)
}

// Is makes an AuthError with no retries left match ErrBlocked.
func (e *AuthError) Is(target error) bool {
	return target == ErrBlocked && e.Retries == 0
}

// Unwrap returns the card's *apdu.StatusError, if any.
func (e *AuthError) Unwrap() error {
	if e.sw == nil {
		return nil
	}
	return e.sw
}

// statusError is a status word classified as one of the package's errors.
type statusError struct {
	op   string
	kind error
	sw   *apdu.StatusError
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%v: %s: card answered %s", e.kind, e.op, e.sw.SW)
}

func (e *statusError) Unwrap() []error { return []error{e.kind, e.sw} }

// wrap names op in err and classifies a status word in it.
func wrap(op string, err error) error {
	var se *apdu.StatusError
	if !errors.As(err, &se) {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	var kind error
	switch {
	case errors.Is(se, apdu.ErrNotFound):
		kind = ErrNotFound
	case errors.Is(se, apdu.ErrSecurityStatus):
		kind = ErrSecurityStatus
	case errors.Is(se, apdu.ErrAuthBlocked):
		kind = ErrBlocked
	case errors.Is(se, apdu.ErrUnsupported):
		kind = ErrUnsupported
	default:
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	return &statusError{op: op, kind: kind, sw: se}
}

// wrapAuth is wrap for commands that check ref: a failed verification
// (63CX, 6300) becomes *AuthError.
func wrapAuth(op string, ref KeyRef, err error) error {
	var se *apdu.StatusError
	if errors.As(err, &se) && errors.Is(se, apdu.ErrVerifyFailed) {
		n, ok := se.SW.Retries()
		if !ok {
			n = -1
		}
		return &AuthError{Ref: ref, Retries: n, sw: se}
	}
	return wrap(op, err)
}
