package piv

import (
	"context"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// MoveKey moves the private key in from to to (vendor instruction MOVE
// KEY, YubiKey 5.7 and the emulator: 00 F6 <to> <from>, which needs the
// management key). Only the key moves, with its PIN and touch policies:
// the certificate objects of both slots stay where they are. An empty
// from is ErrNotFound; a card without the instruction fails with
// ErrUnsupported. Yubico documents that to must be empty: a YubiKey may
// refuse an occupied destination (DeleteKey it first), while the
// emulator replaces the key there.
func (a *Admin) MoveKey(ctx context.Context, from, to Slot) error {
	op := fmt.Sprintf("MOVE KEY %02X TO %02X", byte(from), byte(to))
	if err := checkKeySlot(op, from); err != nil {
		return err
	}
	if err := checkKeySlot(op, to); err != nil {
		return err
	}
	_, err := a.do(ctx, op, apdu.Command{INS: pivspec.InsMoveKey, P1: byte(to), P2: byte(from)})
	return err
}

// DeleteKey deletes the private key in slot (MOVE KEY with P1 FF: 00 F6 FF
// <slot>, YubiKey 5.7 and the emulator; needs the management key). The
// slot's certificate object is not touched. An empty slot is ErrNotFound;
// a card without the instruction fails with ErrUnsupported.
func (a *Admin) DeleteKey(ctx context.Context, slot Slot) error {
	op := fmt.Sprintf("DELETE KEY %02X", byte(slot))
	if err := checkKeySlot(op, slot); err != nil {
		return err
	}
	_, err := a.do(ctx, op, apdu.Command{INS: pivspec.InsMoveKey, P1: pivspec.MoveKeyDelete, P2: byte(slot)})
	return err
}

// checkKeySlot is checkSlot for the slots a key can be moved from, to or
// deleted in: not the attestation key, which YubiKeys never move.
func checkKeySlot(op string, s Slot) error {
	if s == pivspec.SlotAttestation {
		return fmt.Errorf("piv: %s: the attestation key cannot be moved or deleted", op)
	}
	return checkSlot(op, s)
}

// HasMoveKey reports whether the card knows MOVE KEY, by sending one that
// no card may carry out: the management key 9B onto itself (00 F6 9B 9B;
// 9B is no asymmetric key slot). A card with the instruction refuses the
// parameters or the missing management key authentication (6A86, 6982 or
// another error status); a card without it answers 6D00 or 6E00. A card
// that answers 9000 does not follow YubiKey's MOVE KEY and is taken not to
// have it. Needs no authentication and changes nothing.
//
// It is for cards whose GET VERSION is below 5.7 yet may have MOVE KEY,
// the Lanyard emulator (emu.Version); YubiKeys are told by their version.
// Do not send it to a card that does not answer GET VERSION: F6 may be
// another vendor's instruction there.
func (c *Card) HasMoveKey(ctx context.Context) (bool, error) {
	const op = "MOVE KEY 9B TO 9B (probe)"
	_, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsMoveKey, P1: byte(pivspec.KeyAdmin), P2: byte(pivspec.KeyAdmin)})
	var se *apdu.StatusError
	switch {
	case err == nil, errors.Is(err, ErrUnsupported):
		return false, nil
	case errors.As(err, &se):
		return true, nil
	}
	return false, err
}
