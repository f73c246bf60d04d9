package apdu

import "errors"

// Errors this package returns for its own reasons, wrapped with details;
// test them with errors.Is.
var (
	// ErrMalformed: bytes that are not a well-formed command APDU,
	// response APDU, BER-TLV encoding or transcript.
	ErrMalformed = errors.New("apdu: malformed")

	// ErrProtocol: the card broke the exchange rules, for example by
	// answering 6CXX to a command that was already resent with its Le,
	// or returning data to a block of a command chain.
	ErrProtocol = errors.New("apdu: card broke the exchange protocol")

	// ErrLimit: the card's response exceeded Client.MaxResponse bytes or
	// took more than Client.MaxExchanges exchanges.
	ErrLimit = errors.New("apdu: card exceeded the client's limits")
)

// Classes of status words. A *StatusError matches (errors.Is) the class
// of its status word:
//
//	ErrNotFound                6A82, 6A88
//	ErrSecurityStatus          6982
//	ErrAuthBlocked             6983
//	ErrVerifyFailed            6300, 63CX
//	ErrConditionsNotSatisfied  6985
//	ErrUnsupported             6882, 6A81, 6D00, 6E00
//	ErrWrongParameters         6700, 6A80, 6A86, 6B00
//	ErrNotEnoughMemory         6A84
//
// Other status words belong to no class; match them exactly with
// errors.Is(err, SWxxx.Err()) or read StatusError.SW with errors.As.
var (
	ErrNotFound               = errors.New("apdu: not found")
	ErrSecurityStatus         = errors.New("apdu: security status not satisfied")
	ErrAuthBlocked            = errors.New("apdu: authentication method blocked")
	ErrVerifyFailed           = errors.New("apdu: verification failed")
	ErrConditionsNotSatisfied = errors.New("apdu: conditions of use not satisfied")
	ErrUnsupported            = errors.New("apdu: not supported by the card")
	ErrWrongParameters        = errors.New("apdu: wrong length or parameters")
	ErrNotEnoughMemory        = errors.New("apdu: not enough memory on the card")
)

// class returns the class error of s, or nil.
func (s SW) class() error {
	if _, ok := s.Retries(); ok {
		return ErrVerifyFailed
	}
	switch s {
	case SWNotFound, SWReferenceNotFound:
		return ErrNotFound
	case SWSecurityStatusNotSatisfied:
		return ErrSecurityStatus
	case SWAuthBlocked:
		return ErrAuthBlocked
	case SWNoInformation:
		return ErrVerifyFailed
	case SWConditionsNotSatisfied:
		return ErrConditionsNotSatisfied
	case SWSecureMessagingNotSupported, SWFunctionNotSupported,
		SWInstructionNotSupported, SWClassNotSupported:
		return ErrUnsupported
	case SWWrongLength, SWIncorrectData, SWIncorrectP1P2, SWWrongP1P2:
		return ErrWrongParameters
	case SWNotEnoughMemory:
		return ErrNotEnoughMemory
	}
	return nil
}

// StatusError is a response that ended with a status word other than
// 9000.
type StatusError struct {
	SW SW
}

func (e *StatusError) Error() string {
	return "apdu: card answered " + e.SW.String()
}

// Is reports whether target is the class of e's status word (see
// ErrNotFound) or a *StatusError with the same status word.
func (e *StatusError) Is(target error) bool {
	if t, ok := target.(*StatusError); ok {
		return t != nil && t.SW == e.SW
	}
	c := e.SW.class()
	return c != nil && c == target
}

// IsNotFound reports whether err is, or wraps, a status error meaning
// "not found" (6A82 or 6A88).
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound)
}

// Retries reports the retry counter of a 63CX status error in err's chain:
// in PIV, the PIN or PUK tries left (SP 800-73-4 Part 2 3.2.1). A 6300
// without a count and a blocked 6983 report ok = false; test those with
// errors.Is(err, ErrVerifyFailed) and ErrAuthBlocked.
func Retries(err error) (n int, ok bool) {
	var se *StatusError
	if !errors.As(err, &se) {
		return 0, false
	}
	return se.SW.Retries()
}
