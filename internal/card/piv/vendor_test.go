package piv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
)

func TestVersion(t *testing.T) {
	ctx := context.Background()
	v, err := replayCard(t, `
> 00 FD 00 00 00
< 050403 9000`).Version(ctx)
	if err != nil || v != (piv.Version{Major: 5, Minor: 4, Patch: 3}) || v.String() != "5.4.3" {
		t.Fatalf("Version = %v, %v", v, err)
	}
	if _, err := replayCard(t, `
> 00 FD 00 00 00
< 6D00`).Version(ctx); !errors.Is(err, piv.ErrUnsupported) {
		t.Fatalf("no GET VERSION: %v", err)
	}
	if _, err := replayCard(t, `
> 00 FD 00 00 00
< 0504 9000`).Version(ctx); !errors.Is(err, apdu.ErrMalformed) {
		t.Fatalf("2-byte version: %v", err)
	}
}

func TestVersionAtLeast(t *testing.T) {
	v := piv.Version{Major: 5, Minor: 4, Patch: 3}
	for _, tt := range []struct {
		major, minor, patch int
		want                bool
	}{
		{5, 4, 3, true}, {5, 3, 0, true}, {4, 9, 9, true}, {5, 4, 2, true},
		{5, 4, 4, false}, {5, 5, 0, false}, {6, 0, 0, false},
	} {
		if got := v.AtLeast(tt.major, tt.minor, tt.patch); got != tt.want {
			t.Errorf("%v.AtLeast(%d, %d, %d) = %v", v, tt.major, tt.minor, tt.patch, got)
		}
	}
}

func TestSerial(t *testing.T) {
	ctx := context.Background()
	n, err := replayCard(t, `
> 00 F8 00 00 00
< 00BC614E 9000`).Serial(ctx)
	if err != nil || n != 12345678 {
		t.Fatalf("Serial = %d, %v", n, err)
	}
	if _, err := replayCard(t, `
> 00 F8 00 00 00
< 00BC61 9000`).Serial(ctx); !errors.Is(err, apdu.ErrMalformed) {
		t.Fatalf("3-byte serial: %v", err)
	}
	if _, err := replayCard(t, `
> 00 F8 00 00 00
< 6E00`).Serial(ctx); !errors.Is(err, piv.ErrUnsupported) {
		t.Fatalf("no GET SERIAL: %v", err)
	}
}

// The wrong values Reset presents come from seqReader: bytes 00…07 give
// the digits "01234567", 08…0F give "89012345", and so on.
func TestReset(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		transcript string
		wantErr    bool
	}{
		{"PIN and PUK with tries left", `
> 00 20 00 80 08 3031323334353637
< 63C2
> 00 20 00 80 08 3031323334353637
< 63C1
> 00 20 00 80 08 3031323334353637
< 63C0
> 00 24 00 81 10 3839303132333435 3839303132333435
< 63C1
> 00 24 00 81 10 3839303132333435 3839303132333435
< 63C0
> 00 FB 00 00
< 9000`, false},
		{"already blocked", `
> 00 20 00 80 08 3031323334353637
< 6983
> 00 24 00 81 10 3839303132333435 3839303132333435
< 6983
> 00 FB 00 00
< 9000`, false},
		// A guess that is the real PIN resets the counter; Reset must move
		// on to another value rather than loop.
		{"a guess is the PIN", `
> 00 20 00 80 08 3031323334353637
< 9000
> 00 20 00 80 08 3839303132333435
< 63C0
> 00 24 00 81 10 3637383930313233 3637383930313233
< 6983
> 00 FB 00 00
< 9000`, false},
		{"card refuses RESET", `
> 00 20 00 80 08 3031323334353637
< 6983
> 00 24 00 81 10 3839303132333435 3839303132333435
< 6983
> 00 FB 00 00
< 6985`, true},
		{"card removed while blocking", `
> 00 20 00 80 08 3031323334353637
! card removed`, true},
		{"unexpected status while blocking the PUK", `
> 00 20 00 80 08 3031323334353637
< 6983
> 00 24 00 81 10 3839303132333435 3839303132333435
< 6A88`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := replayCard(t, tt.transcript).Reset(ctx)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Reset = %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestResetGivesUpOnACardThatNeverBlocks(t *testing.T) {
	ctx := context.Background()
	n := 0
	fake := func(c apdu.Command) apdu.Response {
		n++
		return apdu.Response{SW: apdu.VerifyFailed(3)}
	}
	err := mustCard(t, newHandlerCard(fake)).Reset(ctx)
	if err == nil || n != 256 {
		t.Fatalf("Reset = %v after %d tries", err, n)
	}
}

func TestSetRetries(t *testing.T) {
	ctx := context.Background()
	a := replayAdmin(t, `
> 00 20 00 80 08 313233343536FFFF
< 9000
> 00 FA 05 0A
< 9000`)
	if err := a.SetRetries(ctx, "123456", 5, 10); err != nil {
		t.Fatal(err)
	}

	a = replayAdmin(t, `
> 00 20 00 80 08 313233343536FFFF
< 63C2`)
	var ae *piv.AuthError
	if err := a.SetRetries(ctx, "123456", 5, 10); !errors.As(err, &ae) {
		t.Fatalf("wrong PIN: %v", err)
	}

	a = replayAdmin(t, `
> 00 20 00 80 08 313233343536FFFF
< 9000
> 00 FA 05 0A
< 6982`)
	if err := a.SetRetries(ctx, "123456", 5, 10); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("without management key: %v", err)
	}

	a = replayAdmin(t, "")
	for _, n := range [][2]int{{0, 3}, {3, 0}, {256, 3}, {3, -1}} {
		if err := a.SetRetries(ctx, "123456", n[0], n[1]); err == nil {
			t.Errorf("SetRetries(%d, %d) accepted", n[0], n[1])
		}
	}
}
