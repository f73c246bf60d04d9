package piv_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestStatusWordsBecomeTypedErrors(t *testing.T) {
	ctx := context.Background()
	all := []error{piv.ErrNotFound, piv.ErrSecurityStatus, piv.ErrBlocked, piv.ErrUnsupported}
	tests := []struct {
		sw   apdu.SW
		want error // nil: none of all
	}{
		{0x6A82, piv.ErrNotFound},
		{0x6A88, piv.ErrNotFound},
		{0x6982, piv.ErrSecurityStatus},
		{0x6983, piv.ErrBlocked},
		{0x6D00, piv.ErrUnsupported},
		{0x6E00, piv.ErrUnsupported},
		{0x6A81, piv.ErrUnsupported},
		{0x6882, piv.ErrUnsupported},
		{0x6A80, nil},
		{0x6581, nil},
		{0x6F00, nil},
	}
	for _, tt := range tests {
		t.Run(tt.sw.String(), func(t *testing.T) {
			c := replayCard(t, fmt.Sprintf("> 00 CB 3F FF 05 5C035FC102 00\n< %04X", uint16(tt.sw)))
			_, err := c.ReadObject(ctx, pivspec.ObjectCHUID)
			if err == nil {
				t.Fatal("no error")
			}
			for _, e := range all {
				if errors.Is(err, e) != (e == tt.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, e, !(e == tt.want))
				}
			}
			// The raw status word stays reachable.
			var se *apdu.StatusError
			if !errors.As(err, &se) || se.SW != tt.sw {
				t.Errorf("errors.As(%v) = %v", err, se)
			}
			if !strings.Contains(err.Error(), "GET DATA 5FC102") {
				t.Errorf("error %q does not name the command", err)
			}
		})
	}
}

func TestAuthErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		err  *piv.AuthError
		want string
	}{
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: 2}, "piv: wrong PIN, 2 tries left"},
		{&piv.AuthError{Ref: pivspec.KeyPUK, Retries: 1}, "piv: wrong PUK, 1 try left"},
		{&piv.AuthError{Ref: pivspec.KeyPIN, Retries: 0}, "piv: wrong PIN, now blocked"},
		{&piv.AuthError{Ref: pivspec.KeyPUK, Retries: -1}, "piv: wrong PUK"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.err, got, tt.want)
		}
		if errors.Is(tt.err, piv.ErrBlocked) != (tt.err.Retries == 0) {
			t.Errorf("%+v: errors.Is(ErrBlocked) wrong", tt.err)
		}
		if tt.err.Unwrap() != nil {
			t.Errorf("an AuthError made by hand unwraps to %v", tt.err.Unwrap())
		}
	}
}

func TestContextEndsTheExchange(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := replayCard(t, "")
	if _, err := c.Select(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Select with a cancelled context: %v", err)
	}
}
