package lanyard

import (
	"errors"
	"fmt"
)

// Error codes are stable strings that API clients may rely on. The web
// layer maps each code to an HTTP status; nothing below the web layer knows
// about HTTP.
const (
	EInvalid         = "invalid"          // malformed or semantically wrong input
	ENotFound        = "not_found"        // the object does not exist (or the caller may not know it does)
	EConflict        = "conflict"         // unique name taken, state does not allow the change
	EUnauthenticated = "unauthenticated"  // no or bad credentials
	EForbidden       = "forbidden"        // authenticated but lacks the role or scope
	ERateLimited     = "rate_limited"     // too many attempts; retry later
	ETooLarge        = "too_large"        // request body over the limit
	EInvalidCSR      = "invalid_csr"      // CSR does not parse or its signature does not verify
	EKeyNotAllowed   = "key_not_allowed"  // the public key's algorithm/size is not allowed by the template
	EUnavailable     = "unavailable"      // a dependency (CA, database) is not ready
	EInternal        = "internal"         // a bug or an unexpected failure; details are logged, not shown
	EPendingApproval = "pending_approval" // request accepted but waits for a CA manager
	// Step-up authentication (password plus authenticator app code) for
	// sensitive actions such as setting a platform credential's PIN.
	ESecondFactorRequired = "second_factor_required" // no confirmed authenticator app: enroll one first
	EStepUpFailed         = "step_up_failed"         // wrong password, wrong code or a code already used
)

// Error is the one error type that crosses package boundaries. Message is
// safe to show to the caller; internal detail belongs in the wrapped Err,
// which is logged but never sent to clients.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, for logs only
}

func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted, user-safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that keeps cause for the logs.
func Wrap(code string, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EInternal for any other non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-safe message of err; errors that are not
// *Error yield a generic message so that internals never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Message
	}
	return "internal error"
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return err != nil && ErrorCode(err) == code }
