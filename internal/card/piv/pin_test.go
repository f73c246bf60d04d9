package piv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestVerifyPIN(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		pin         string
		transcript  string
		ok          bool
		retries     int // of the *AuthError; -2: no AuthError expected
		blocked     bool
		want        error
		formatError bool
	}{
		// SP 800-73-4 Part 2 3.2.1: ASCII padded with FF to 8 bytes.
		{name: "right", pin: "123456", transcript: `
> 00 20 00 80 08 313233343536FFFF
< 9000`, ok: true},
		{name: "eight characters", pin: "abcdefgh", transcript: `
> 00 20 00 80 08 6162636465666768
< 9000`, ok: true},
		{name: "wrong, 2 left", pin: "654321", transcript: `
> 00 20 00 80 08 363534333231FFFF
< 63C2`, retries: 2},
		{name: "wrong, now blocked", pin: "654321", transcript: `
> 00 20 00 80 08 363534333231FFFF
< 63C0`, retries: 0, blocked: true},
		{name: "wrong, count not given", pin: "654321", transcript: `
> 00 20 00 80 08 363534333231FFFF
< 6300`, retries: -1},
		{name: "blocked", pin: "123456", transcript: `
> 00 20 00 80 08 313233343536FFFF
< 6983`, retries: -2, blocked: true, want: piv.ErrBlocked},
		{name: "card refuses the format", pin: "12345 ", transcript: `
> 00 20 00 80 08 313233343520FFFF
< 6A80`, retries: -2, want: apdu.ErrWrongParameters},
		{name: "too short", pin: "12345", retries: -2, formatError: true},
		{name: "too long", pin: "123456789", retries: -2, formatError: true},
		{name: "not ASCII", pin: "12345\u00e9", retries: -2, formatError: true},
		{name: "control character", pin: "1234567\n", retries: -2, formatError: true},
		{name: "FF byte", pin: "123456\xff", retries: -2, formatError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replayCard(t, tt.transcript)
			err := c.VerifyPIN(ctx, tt.pin)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("VerifyPIN succeeded")
			}
			var ae *piv.AuthError
			gotAuth := errors.As(err, &ae)
			if (tt.retries != -2) != gotAuth {
				t.Fatalf("error %v: AuthError %v, want %v", err, gotAuth, tt.retries != -2)
			}
			if gotAuth && (ae.Retries != tt.retries || ae.Ref != pivspec.KeyPIN) {
				t.Fatalf("AuthError %+v, want PIN with %d retries", ae, tt.retries)
			}
			if errors.Is(err, piv.ErrBlocked) != tt.blocked {
				t.Fatalf("errors.Is(%v, ErrBlocked) = %v", err, !tt.blocked)
			}
			if errors.Is(err, piv.ErrPINFormat) != tt.formatError {
				t.Fatalf("errors.Is(%v, ErrPINFormat) = %v", err, !tt.formatError)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAuthErrorKeepsTheStatusWord(t *testing.T) {
	c := replayCard(t, `
> 00 20 00 80 08 363534333231FFFF
< 63C2`)
	err := c.VerifyPIN(context.Background(), "654321")
	if n, ok := apdu.Retries(err); !ok || n != 2 {
		t.Fatalf("apdu.Retries(%v) = %d, %v", err, n, ok)
	}
	if !errors.Is(err, apdu.VerifyFailed(2).Err()) {
		t.Fatalf("%v does not match 63C2", err)
	}
	if got := err.Error(); got != "piv: wrong PIN, 2 tries left" {
		t.Fatalf("message %q", got)
	}
}

func TestMinPINLength(t *testing.T) {
	ctx := context.Background()
	replay := apdutest.NewReplay(t, apdutest.MustTranscript(t, `
> 00 20 00 80 08 31323334FFFFFFFF
< 9000`))
	c, err := piv.New(replay, piv.Config{Rand: &seqReader{}, MinPINLength: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, "1234"); err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyPIN(ctx, "123"); !errors.Is(err, piv.ErrPINFormat) {
		t.Fatalf("3-digit PIN: %v", err)
	}
	for _, n := range []int{-1, 3, 9} {
		if _, err := piv.New(replay, piv.Config{Rand: &seqReader{}, MinPINLength: n}); err == nil {
			t.Errorf("MinPINLength %d accepted", n)
		}
	}
	if _, err := piv.New(replay, piv.Config{}); err == nil {
		t.Error("New without Rand accepted")
	}
	if _, err := piv.New(nil, piv.Config{Rand: &seqReader{}}); err == nil {
		t.Error("New without Transport accepted")
	}
}

func TestPINRetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		transcript string
		want       int
		wantErr    error
	}{
		{"three left", `
> 00 20 00 80
< 63C3`, 3, nil},
		{"blocked", `
> 00 20 00 80
< 6983`, 0, nil},
		{"verified, from metadata", `
> 00 20 00 80
< 9000
> 00 F7 00 80 00
< 0101FF 050100 06020502 9000`, 2, nil},
		{"verified, no metadata", `
> 00 20 00 80
< 9000
> 00 F7 00 80 00
< 6D00`, 0, piv.ErrUnsupported},
		{"no PIV application selected", `
> 00 20 00 80
< 6A88`, 0, piv.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := replayCard(t, tt.transcript).PINRetries(ctx)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("PINRetries = %d, %v; want %v", n, err, tt.wantErr)
				}
				return
			}
			if err != nil || n != tt.want {
				t.Fatalf("PINRetries = %d, %v; want %d", n, err, tt.want)
			}
		})
	}
}

func TestChangeAndUnblock(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		call       func(*piv.Card) error
		transcript string
		wantRef    piv.KeyRef // of an AuthError; 0 for success
		want       error
	}{
		{"change PIN", func(c *piv.Card) error { return c.ChangePIN(ctx, "123456", "87654321") }, `
> 00 24 00 80 10 313233343536FFFF 3837363534333231
< 9000`, 0, nil},
		{"change PIN, wrong old PIN", func(c *piv.Card) error { return c.ChangePIN(ctx, "111111", "87654321") }, `
> 00 24 00 80 10 313131313131FFFF 3837363534333231
< 63C1`, pivspec.KeyPIN, nil},
		{"change PIN, new PIN too long", func(c *piv.Card) error { return c.ChangePIN(ctx, "123456", "123456789") }, "", 0, piv.ErrPINFormat},
		{"change PUK", func(c *piv.Card) error { return c.ChangePUK(ctx, "12345678", "abcdefgh") }, `
> 00 24 00 81 10 3132333435363738 6162636465666768
< 9000`, 0, nil},
		{"change PUK, blocked", func(c *piv.Card) error { return c.ChangePUK(ctx, "12345678", "abcdefgh") }, `
> 00 24 00 81 10 3132333435363738 6162636465666768
< 6983`, 0, piv.ErrBlocked},
		{"unblock PIN", func(c *piv.Card) error { return c.UnblockPIN(ctx, "12345678", "246810") }, `
> 00 2C 00 80 10 3132333435363738 323436383130FFFF
< 9000`, 0, nil},
		{"unblock PIN, wrong PUK", func(c *piv.Card) error { return c.UnblockPIN(ctx, "00000000", "246810") }, `
> 00 2C 00 80 10 3030303030303030 323436383130FFFF
< 63C2`, pivspec.KeyPUK, nil},
		{"unblock PIN, PUK too short", func(c *piv.Card) error { return c.UnblockPIN(ctx, "1234", "246810") }, "", 0, piv.ErrPINFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(replayCard(t, tt.transcript))
			var ae *piv.AuthError
			switch {
			case tt.wantRef != 0:
				if !errors.As(err, &ae) || ae.Ref != tt.wantRef {
					t.Fatalf("error %v, want an AuthError for %v", err, tt.wantRef)
				}
			case tt.want != nil:
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}
