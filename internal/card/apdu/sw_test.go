package apdu_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

var classes = []error{
	apdu.ErrNotFound, apdu.ErrSecurityStatus, apdu.ErrAuthBlocked, apdu.ErrVerifyFailed,
	apdu.ErrConditionsNotSatisfied, apdu.ErrUnsupported, apdu.ErrWrongParameters, apdu.ErrNotEnoughMemory,
}

func TestSWClasses(t *testing.T) {
	tests := []struct {
		sw    apdu.SW
		class error // nil: no class
	}{
		{0x6A82, apdu.ErrNotFound},
		{0x6A88, apdu.ErrNotFound},
		{0x6982, apdu.ErrSecurityStatus},
		{0x6983, apdu.ErrAuthBlocked},
		{0x6300, apdu.ErrVerifyFailed},
		{0x63C0, apdu.ErrVerifyFailed},
		{0x63C3, apdu.ErrVerifyFailed},
		{0x63CF, apdu.ErrVerifyFailed},
		{0x6985, apdu.ErrConditionsNotSatisfied},
		{0x6882, apdu.ErrUnsupported},
		{0x6A81, apdu.ErrUnsupported},
		{0x6D00, apdu.ErrUnsupported},
		{0x6E00, apdu.ErrUnsupported},
		{0x6700, apdu.ErrWrongParameters},
		{0x6A80, apdu.ErrWrongParameters},
		{0x6A86, apdu.ErrWrongParameters},
		{0x6B00, apdu.ErrWrongParameters},
		{0x6A84, apdu.ErrNotEnoughMemory},
		{0x6581, nil},
		{0x6883, nil},
		{0x6984, nil},
		{0x6F00, nil},
		{0x6110, nil},
		{0x6C08, nil},
		{0x6301, nil}, // not 63CX
		{0x6281, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04X", uint16(tt.sw)), func(t *testing.T) {
			err := tt.sw.Err()
			var se *apdu.StatusError
			if !errors.As(err, &se) || se.SW != tt.sw {
				t.Fatalf("Err() = %#v, want *StatusError{%04X}", err, uint16(tt.sw))
			}
			for _, c := range classes {
				if got := errors.Is(err, c); got != (c == tt.class) {
					t.Errorf("errors.Is(%v, %v) = %v", err, c, got)
				}
			}
			// The class survives wrapping, as callers add context.
			wrapped := fmt.Errorf("piv: get data: %w", err)
			if tt.class != nil && !errors.Is(wrapped, tt.class) {
				t.Errorf("wrapped error lost its class %v", tt.class)
			}
			if !errors.Is(wrapped, tt.sw.Err()) {
				t.Errorf("wrapped error does not match its own status word")
			}
			if errors.Is(wrapped, (tt.sw ^ 1).Err()) {
				t.Errorf("wrapped error matches status word %04X", uint16(tt.sw^1))
			}
		})
	}
}

func TestSWErrNilOnSuccess(t *testing.T) {
	if err := apdu.SWOK.Err(); err != nil {
		t.Fatalf("SWOK.Err() = %v", err)
	}
}

func TestIsNotFound(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{apdu.SWNotFound.Err(), true},
		{apdu.SWReferenceNotFound.Err(), true},
		{fmt.Errorf("reading CHUID: %w", apdu.SWNotFound.Err()), true},
		{apdu.SWSecurityStatusNotSatisfied.Err(), false},
		{errors.New("6A82"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := apdu.IsNotFound(tt.err); got != tt.want {
			t.Errorf("IsNotFound(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		err    error
		want   int
		wantOK bool
	}{
		{apdu.SW(0x63C0).Err(), 0, true},
		{apdu.SW(0x63C2).Err(), 2, true},
		{apdu.SW(0x63CF).Err(), 15, true},
		{fmt.Errorf("verify PIN: %w", apdu.SW(0x63C1).Err()), 1, true},
		{apdu.SWNoInformation.Err(), 0, false},
		{apdu.SWAuthBlocked.Err(), 0, false},
		{apdu.SW(0x6302).Err(), 0, false},
		{errors.New("63C2"), 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		n, ok := apdu.Retries(tt.err)
		if n != tt.want || ok != tt.wantOK {
			t.Errorf("Retries(%v) = %d, %v; want %d, %v", tt.err, n, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSWConstructorsAndReaders(t *testing.T) {
	tests := []struct {
		name       string
		sw         apdu.SW
		want       apdu.SW
		read       func(apdu.SW) (int, bool)
		wantN      int
		wantNotFor apdu.SW // a status word the reader must refuse
	}{
		{"MoreData(1)", apdu.MoreData(1), 0x6101, apdu.SW.Available, 1, 0x6C01},
		{"MoreData(255)", apdu.MoreData(255), 0x61FF, apdu.SW.Available, 255, 0x9000},
		{"MoreData(256)", apdu.MoreData(256), 0x6100, apdu.SW.Available, 256, 0x6200},
		{"MoreData(5000)", apdu.MoreData(5000), 0x6100, apdu.SW.Available, 256, 0x6000},
		{"WrongLe(16)", apdu.WrongLe(16), 0x6C10, apdu.SW.ExactLe, 16, 0x6110},
		{"WrongLe(256)", apdu.WrongLe(256), 0x6C00, apdu.SW.ExactLe, 256, 0x6D00},
		{"VerifyFailed(3)", apdu.VerifyFailed(3), 0x63C3, apdu.SW.Retries, 3, 0x6303},
		{"VerifyFailed(0)", apdu.VerifyFailed(0), 0x63C0, apdu.SW.Retries, 0, 0x63D0},
		{"VerifyFailed(99)", apdu.VerifyFailed(99), 0x63CF, apdu.SW.Retries, 15, 0x6983},
		{"VerifyFailed(-1)", apdu.VerifyFailed(-1), 0x63C0, apdu.SW.Retries, 0, 0x6300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sw != tt.want {
				t.Fatalf("= %04X, want %04X", uint16(tt.sw), uint16(tt.want))
			}
			if n, ok := tt.read(tt.sw); !ok || n != tt.wantN {
				t.Errorf("read back %d, %v; want %d", n, ok, tt.wantN)
			}
			if n, ok := tt.read(tt.wantNotFor); ok {
				t.Errorf("reader accepted %04X as %d", uint16(tt.wantNotFor), n)
			}
		})
	}
}

func TestSWBytesAndString(t *testing.T) {
	sw := apdu.SW(0x6A82)
	if sw.SW1() != 0x6A || sw.SW2() != 0x82 {
		t.Errorf("SW1, SW2 = %02X %02X", sw.SW1(), sw.SW2())
	}
	tests := map[apdu.SW]string{
		0x9000: "9000 (success)",
		0x6A82: "6A82 (file or application not found)",
		0x63C2: "63C2 (verification failed, 2 retries left)",
		0x6100: "6100 (256 or more bytes available)",
		0x6110: "6110 (16 more bytes available)",
		0x6C10: "6C10 (wrong Le, 16 bytes available)",
		0x6D00: "6D00 (instruction not supported)",
		0x6999: "6999",
	}
	for sw, want := range tests {
		if got := sw.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
	if errors.Is(apdu.SWNotFound.Err(), (*apdu.StatusError)(nil)) {
		t.Error("a status error matches a nil *StatusError")
	}
	if msg := apdu.SWSecurityStatusNotSatisfied.Err().Error(); !strings.Contains(msg, "6982 (security status not satisfied)") {
		t.Errorf("Error() = %q", msg)
	}
}
