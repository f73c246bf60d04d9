package piv

import (
	"context"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// VerifyPIN verifies the PIN (VERIFY, SP 800-73-4 Part 2 3.2.1), which
// signing and the other private key operations of slots 9A, 9C and 9D
// require. A wrong PIN fails with *AuthError and the tries left; a blocked
// one with ErrBlocked.
func (c *Card) VerifyPIN(ctx context.Context, pin string) error {
	const op = "VERIFY PIN"
	ref, err := c.encodePIN("PIN", pin)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	_, err = c.doAuth(ctx, op, pivspec.KeyPIN, apdu.Command{INS: pivspec.InsVerify, P2: byte(pivspec.KeyPIN), Data: ref})
	return err
}

// PINRetries returns the PIN tries left. It sends VERIFY without data (SP
// 800-73-4 Part 2 3.2.1), which costs no try: the card answers 63CX, or
// 6983 when the PIN is blocked (0 tries). When the PIN is already verified
// the card answers 9000 without a count; PINRetries then asks GET METADATA
// (YubiKey 5.3 and later) and fails on cards without it.
func (c *Card) PINRetries(ctx context.Context) (int, error) {
	const op = "VERIFY PIN (status)"
	r, err := c.client.Send(ctx, apdu.Command{INS: pivspec.InsVerify, P2: byte(pivspec.KeyPIN)})
	if err != nil {
		return 0, wrap(op, err)
	}
	if n, ok := r.SW.Retries(); ok {
		return n, nil
	}
	switch r.SW {
	case apdu.SWAuthBlocked:
		return 0, nil
	case apdu.SWOK:
		m, err := c.Metadata(ctx, pivspec.KeyPIN)
		if err != nil {
			return 0, fmt.Errorf("piv: the PIN is verified and the card does not report its tries left: %w", err)
		}
		return m.RetriesLeft, nil
	}
	return 0, wrap(op, r.Err())
}

// ChangePIN replaces the PIN (CHANGE REFERENCE DATA, SP 800-73-4 Part 2
// 3.2.2). A wrong old PIN fails with *AuthError.
func (c *Card) ChangePIN(ctx context.Context, oldPIN, newPIN string) error {
	return c.changeReference(ctx, pivspec.KeyPIN, "PIN", oldPIN, newPIN)
}

// ChangePUK replaces the PUK (CHANGE REFERENCE DATA, SP 800-73-4 Part 2
// 3.2.2). A wrong old PUK fails with *AuthError.
func (c *Card) ChangePUK(ctx context.Context, oldPUK, newPUK string) error {
	return c.changeReference(ctx, pivspec.KeyPUK, "PUK", oldPUK, newPUK)
}

func (c *Card) changeReference(ctx context.Context, ref KeyRef, name, current, next string) error {
	op := "CHANGE REFERENCE DATA " + name
	a, err := c.encodePIN("current "+name, current)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	b, err := c.encodePIN("new "+name, next)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	_, err = c.doAuth(ctx, op, ref, apdu.Command{INS: pivspec.InsChangeReference, P2: byte(ref), Data: append(a, b...)})
	return err
}

// UnblockPIN sets a new PIN and resets its retry counter with the PUK
// (RESET RETRY COUNTER, SP 800-73-4 Part 2 3.2.3). A wrong PUK fails with
// *AuthError (Ref KeyPUK); a blocked PUK with ErrBlocked, and then only
// Reset helps.
func (c *Card) UnblockPIN(ctx context.Context, puk, newPIN string) error {
	const op = "RESET RETRY COUNTER"
	a, err := c.encodePIN("PUK", puk)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	b, err := c.encodePIN("new PIN", newPIN)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	_, err = c.doAuth(ctx, op, pivspec.KeyPUK, apdu.Command{INS: pivspec.InsResetRetry, P2: byte(pivspec.KeyPIN), Data: append(a, b...)})
	return err
}

// encodePIN encodes a PIN or PUK as PIV reference data: ASCII, padded with
// FF to 8 bytes (SP 800-73-4 Part 2 2.4.3 and 3.2.1).
func (c *Card) encodePIN(what, pin string) ([]byte, error) {
	switch {
	case len(pin) < c.minPIN:
		return nil, fmt.Errorf("%w: the %s is %d characters, shorter than %d", ErrPINFormat, what, len(pin), c.minPIN)
	case len(pin) > MaxPINLength:
		return nil, fmt.Errorf("%w: the %s is %d characters; a PIV card takes at most %d", ErrPINFormat, what, len(pin), MaxPINLength)
	}
	b := make([]byte, MaxPINLength)
	for i := range b {
		if i >= len(pin) {
			b[i] = 0xFF
			continue
		}
		if pin[i] < 0x20 || pin[i] > 0x7E {
			return nil, fmt.Errorf("%w: the %s must be printable ASCII", ErrPINFormat, what)
		}
		b[i] = pin[i]
	}
	return b, nil
}
