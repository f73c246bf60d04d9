package apdu

import "fmt"

// SW is a status word: the trailer SW1-SW2 that ends every response APDU
// (ISO/IEC 7816-4:2005 5.1.3, table 5 for the groups, table 6 for the
// individual values). 9000 is success; every other value becomes an error
// through Err.
type SW uint16

// Status words a PIV card application uses. Where SP 800-73-4 Part 2 gives a
// value a specific meaning, its section is named.
const (
	// SWOK: normal processing, no further qualification.
	SWOK SW = 0x9000

	// SWMoreData is 61XX with XX = 00: the command succeeded and response
	// bytes remain, to be fetched with GET RESPONSE (7.6.1). SW2 counts
	// them, 00 standing for 256 or more; build one with MoreData and read
	// it with SW.Available. SP 800-73-4 Part 2 3.1.2 (GET DATA) and 3.2.4
	// (GENERAL AUTHENTICATE) answer long objects this way.
	SWMoreData SW = 0x6100

	// SWNoInformation is 6300: warning, non-volatile memory changed, no
	// information given. Some cards answer it to a failed authentication
	// instead of 63CX.
	SWNoInformation SW = 0x6300

	// SWVerifyFailed is 63CX with X = 0: the counter X (0 to 15) was
	// reached. In PIV it is the retries left after a wrong PIN or PUK
	// (SP 800-73-4 Part 2 3.2.1 VERIFY, 3.2.2 CHANGE REFERENCE DATA, 3.2.3
	// RESET RETRY COUNTER); 63C0 means the reference is now blocked. Build
	// one with VerifyFailed and read it with SW.Retries.
	SWVerifyFailed SW = 0x63C0

	// SWMemoryFailure is 6581: execution error, memory failure.
	SWMemoryFailure SW = 0x6581

	// SWWrongLength is 6700: wrong length, no further indication. A
	// CardFramer answers it to a command APDU that ParseCommand rejects.
	SWWrongLength SW = 0x6700

	// SWSecureMessagingNotSupported is 6882: the class byte asks for
	// secure messaging, which the card does not support.
	SWSecureMessagingNotSupported SW = 0x6882

	// SWLastCommandExpected is 6883: the last command of a chain was
	// expected (5.1.1.1).
	SWLastCommandExpected SW = 0x6883

	// SWSecurityStatusNotSatisfied is 6982. In PIV: the PIN or management
	// key authentication that the command's access rule requires has not
	// happened (SP 800-73-4 Part 2 3.1.2, 3.2.4, 3.3.1, 3.3.2).
	SWSecurityStatusNotSatisfied SW = 0x6982

	// SWAuthBlocked is 6983: authentication method blocked. In PIV: the
	// PIN or PUK retry counter is at zero (SP 800-73-4 Part 2 3.2.1 to
	// 3.2.3).
	SWAuthBlocked SW = 0x6983

	// SWReferenceDataUnusable is 6984: reference data not usable (the 2005
	// edition says "referenced data invalidated").
	SWReferenceDataUnusable SW = 0x6984

	// SWConditionsNotSatisfied is 6985: conditions of use not satisfied,
	// for example GET RESPONSE with no response pending.
	SWConditionsNotSatisfied SW = 0x6985

	// SWIncorrectData is 6A80: incorrect parameters in the command data
	// field. In PIV: a malformed data field, or a new PIN that does not
	// satisfy the card's rules (SP 800-73-4 Part 2 3.2.2, 3.3.1, 3.3.2).
	SWIncorrectData SW = 0x6A80

	// SWFunctionNotSupported is 6A81: function not supported.
	SWFunctionNotSupported SW = 0x6A81

	// SWNotFound is 6A82: file or application not found. In PIV: the PIV
	// application is not on the card (SP 800-73-4 Part 2 3.1.1 SELECT) or
	// the data object is empty (3.1.2 GET DATA).
	SWNotFound SW = 0x6A82

	// SWNotEnoughMemory is 6A84: not enough memory space. In PIV: the
	// object does not fit (SP 800-73-4 Part 2 3.3.1 PUT DATA). A
	// CardFramer answers it to a command chain longer than MaxChainData.
	SWNotEnoughMemory SW = 0x6A84

	// SWIncorrectP1P2 is 6A86: incorrect parameters P1-P2. In PIV: an
	// unknown algorithm or key reference in P1-P2 (SP 800-73-4 Part 2
	// 3.2.4, 3.3.2).
	SWIncorrectP1P2 SW = 0x6A86

	// SWReferenceNotFound is 6A88: referenced data or reference data not
	// found. In PIV: the key reference is not one the card has (SP 800-73-4
	// Part 2 3.2.1 to 3.2.4).
	SWReferenceNotFound SW = 0x6A88

	// SWWrongP1P2 is 6B00: wrong parameters P1-P2.
	SWWrongP1P2 SW = 0x6B00

	// SWWrongLe is 6CXX with XX = 00: wrong Le field; SW2 is the exact
	// number of bytes available (00 meaning 256), and the command is to
	// be sent again with that Le. Build one with WrongLe and read it with
	// SW.ExactLe.
	SWWrongLe SW = 0x6C00

	// SWInstructionNotSupported is 6D00: instruction code not supported
	// or invalid. Cards without a vendor extension answer it, for example
	// to GET VERSION.
	SWInstructionNotSupported SW = 0x6D00

	// SWClassNotSupported is 6E00: class not supported.
	SWClassNotSupported SW = 0x6E00

	// SWNoPreciseDiagnosis is 6F00: no precise diagnosis; in practice an
	// internal card error.
	SWNoPreciseDiagnosis SW = 0x6F00
)

// MoreData returns 61XX announcing n more response bytes; n of 256 or more
// is encoded as 6100.
func MoreData(n int) SW {
	return SWMoreData | SW(countByte(n))
}

// WrongLe returns 6CXX telling the client to resend the command with
// Le = n; n of 256 or more is encoded as 6C00.
func WrongLe(n int) SW {
	return SWWrongLe | SW(countByte(n))
}

// VerifyFailed returns 63CX with X = retries, clamped to 0..15.
func VerifyFailed(retries int) SW {
	return SWVerifyFailed | SW(min(max(retries, 0), 15))
}

// countByte encodes a byte count in SW2 as 61XX and 6CXX do: 1..255 as
// is, 256 and more as 00.
func countByte(n int) byte {
	if n <= 0 || n >= 256 {
		return 0
	}
	return byte(n)
}

// SW1 returns the first status byte.
func (s SW) SW1() byte { return byte(s >> 8) }

// SW2 returns the second status byte.
func (s SW) SW2() byte { return byte(s) }

// Available reports n for 61XX, the number of response bytes still
// available (256 for 6100).
func (s SW) Available() (n int, ok bool) {
	if s&0xFF00 != SWMoreData {
		return 0, false
	}
	return sw2Count(s), true
}

// ExactLe reports n for 6CXX, the Le the command must be resent with (256
// for 6C00).
func (s SW) ExactLe() (n int, ok bool) {
	if s&0xFF00 != SWWrongLe {
		return 0, false
	}
	return sw2Count(s), true
}

// Retries reports X for 63CX: in PIV, the tries left before the PIN or
// PUK blocks.
func (s SW) Retries() (n int, ok bool) {
	if s&0xFFF0 != SWVerifyFailed {
		return 0, false
	}
	return int(s & 0x0F), true
}

func sw2Count(s SW) int {
	if s.SW2() == 0 {
		return 256
	}
	return int(s.SW2())
}

// Err returns nil for 9000 and a *StatusError for any other status word.
func (s SW) Err() error {
	if s == SWOK {
		return nil
	}
	return &StatusError{SW: s}
}

// String returns the status word in hex with its meaning, for example
// "6A82 (file or application not found)".
func (s SW) String() string {
	if d := s.describe(); d != "" {
		return fmt.Sprintf("%04X (%s)", uint16(s), d)
	}
	return fmt.Sprintf("%04X", uint16(s))
}

func (s SW) describe() string {
	if n, ok := s.Available(); ok {
		if n == 256 {
			return "256 or more bytes available"
		}
		return fmt.Sprintf("%d more bytes available", n)
	}
	if n, ok := s.ExactLe(); ok {
		return fmt.Sprintf("wrong Le, %d bytes available", n)
	}
	if n, ok := s.Retries(); ok {
		return fmt.Sprintf("verification failed, %d retries left", n)
	}
	switch s {
	case SWOK:
		return "success"
	case SWNoInformation:
		return "warning, no information given"
	case SWMemoryFailure:
		return "memory failure"
	case SWWrongLength:
		return "wrong length"
	case SWSecureMessagingNotSupported:
		return "secure messaging not supported"
	case SWLastCommandExpected:
		return "last command of the chain expected"
	case SWSecurityStatusNotSatisfied:
		return "security status not satisfied"
	case SWAuthBlocked:
		return "authentication method blocked"
	case SWReferenceDataUnusable:
		return "reference data not usable"
	case SWConditionsNotSatisfied:
		return "conditions of use not satisfied"
	case SWIncorrectData:
		return "incorrect parameters in the data field"
	case SWFunctionNotSupported:
		return "function not supported"
	case SWNotFound:
		return "file or application not found"
	case SWNotEnoughMemory:
		return "not enough memory space"
	case SWIncorrectP1P2:
		return "incorrect parameters P1-P2"
	case SWReferenceNotFound:
		return "referenced data not found"
	case SWWrongP1P2:
		return "wrong parameters P1-P2"
	case SWInstructionNotSupported:
		return "instruction not supported"
	case SWClassNotSupported:
		return "class not supported"
	case SWNoPreciseDiagnosis:
		return "no precise diagnosis"
	}
	return ""
}
