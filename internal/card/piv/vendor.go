package piv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Version is the firmware version a card reports to GET VERSION. Clients
// such as piv-go pick features by it: GET METADATA from 5.3, AES
// management keys from 5.4.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// AtLeast reports whether v is major.minor.patch or later.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// Version returns the card's firmware version (vendor instruction GET
// VERSION, INS FD). Cards without the extension fail with ErrUnsupported.
func (c *Card) Version(ctx context.Context) (Version, error) {
	const op = "GET VERSION"
	b, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsGetVersion, Le: apdu.MaxShortLe})
	if err != nil {
		return Version{}, err
	}
	if len(b) != 3 {
		return Version{}, fmt.Errorf("piv: %s: %w response: %d bytes, want 3", op, apdu.ErrMalformed, len(b))
	}
	return Version{int(b[0]), int(b[1]), int(b[2])}, nil
}

// Serial returns the card's serial number (vendor instruction GET SERIAL,
// INS F8, YubiKey 5 and the emulator), a 32-bit big-endian number.
func (c *Card) Serial(ctx context.Context) (uint32, error) {
	const op = "GET SERIAL"
	b, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsGetSerial, Le: apdu.MaxShortLe})
	if err != nil {
		return 0, err
	}
	if len(b) != 4 {
		return 0, fmt.Errorf("piv: %s: %w response: %d bytes, want 4", op, apdu.ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint32(b), nil
}

// SetRetries sets how many tries the PIN and the PUK have (vendor
// instruction SET PIN RETRIES, INS FA, P1 and P2 the counts, 1 to 255).
// The card requires both the management key, hence Admin, and the PIN,
// which SetRetries verifies first. YubiKeys then reset the PIN and PUK to
// their factory values (pivspec.DefaultPIN, DefaultPUK); set them again after.
func (a *Admin) SetRetries(ctx context.Context, pin string, pinTries, pukTries int) error {
	const op = "SET PIN RETRIES"
	if pinTries < 1 || pinTries > 255 || pukTries < 1 || pukTries > 255 {
		return fmt.Errorf("piv: %s: tries must be 1 to 255, not %d and %d", op, pinTries, pukTries)
	}
	c, err := a.card()
	if err != nil {
		return err
	}
	if err := c.VerifyPIN(ctx, pin); err != nil {
		return err
	}
	_, err = c.do(ctx, op, apdu.Command{INS: pivspec.InsSetRetries, P1: byte(pinTries), P2: byte(pukTries)})
	return err
}

// maxBlockTries bounds the wrong tries Reset spends on each of PIN and
// PUK: retry counters are one byte.
const maxBlockTries = 256

// Reset returns the card to its factory state (vendor instruction RESET,
// INS FB): keys, certificates and objects erased, PIN, PUK and management
// key back to the factory values, retry counters to their defaults.
//
// The card accepts RESET only when both the PIN and the PUK are blocked,
// so Reset first blocks them by presenting wrong values, as
// yubico-piv-tool and piv-go do: VERIFY for the PIN and CHANGE REFERENCE
// DATA for the PUK (which, unlike RESET RETRY COUNTER, changes nothing if
// a guess were right). This destroys everything on the card; there is no
// confirmation.
func (c *Card) Reset(ctx context.Context) error {
	if err := c.block(ctx, pivspec.KeyPIN); err != nil {
		return err
	}
	if err := c.block(ctx, pivspec.KeyPUK); err != nil {
		return err
	}
	_, err := c.do(ctx, "RESET", apdu.Command{INS: pivspec.InsReset})
	return err
}

// block presents random wrong values for ref until the card reports it
// blocked. A guess that happens to be right is dropped for a new one.
func (c *Card) block(ctx context.Context, ref KeyRef) error {
	guess, err := c.wrongGuess()
	if err != nil {
		return err
	}
	for range maxBlockTries {
		err := c.tryWrong(ctx, ref, guess)
		var ae *AuthError
		switch {
		case errors.Is(err, ErrBlocked):
			return nil
		case errors.As(err, &ae):
			// One try fewer; go on.
		case err != nil:
			return fmt.Errorf("piv: blocking the %s before RESET: %w", ref.String(), err)
		default:
			// The guess was the real value; use another.
			if guess, err = c.wrongGuess(); err != nil {
				return err
			}
		}
	}
	return fmt.Errorf("piv: the %s did not block after %d wrong tries", ref.String(), maxBlockTries)
}

// tryWrong presents guess for ref: VERIFY for the PIN, CHANGE REFERENCE
// DATA from guess to guess for the PUK.
func (c *Card) tryWrong(ctx context.Context, ref KeyRef, guess []byte) error {
	if ref == pivspec.KeyPIN {
		_, err := c.doAuth(ctx, "VERIFY PIN", pivspec.KeyPIN, apdu.Command{INS: pivspec.InsVerify, P2: byte(pivspec.KeyPIN), Data: guess})
		return err
	}
	_, err := c.doAuth(ctx, "CHANGE REFERENCE DATA PUK", pivspec.KeyPUK, apdu.Command{INS: pivspec.InsChangeReference, P2: byte(pivspec.KeyPUK), Data: append(bytes.Clone(guess), guess...)})
	return err
}

// wrongGuess returns 8 random digits, encoded as reference data.
func (c *Card) wrongGuess() ([]byte, error) {
	b, err := c.randomBytes(MaxPINLength)
	if err != nil {
		return nil, err
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return b, nil
}
