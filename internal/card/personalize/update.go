package personalize

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card steps of an update of the card's contents (issue 17,
// docs/lifecycle.md "Update"): a new key is staged in a free retired slot
// beside the old one, certified, written and read back there, and only
// then moved into its slot with MOVE KEY, so the card always holds a
// working key and certificate pair.

// CanMoveKeys reports whether the card has YubiKey 5.7's MOVE KEY and
// DELETE KEY (INS F6). A YubiKey tells by its version, 5.7.0 or later, as
// Yubico's own tools go by (yubikit's move_key requires 5.7.0). A card
// that answers GET VERSION with an earlier one is probed
// (piv.Card.HasMoveKey): the Lanyard emulator, TPM virtual cards and
// AirCards have MOVE KEY but report 5.4.3, since a 5.7 would make clients
// expect Ed25519 and X25519 keys too (emu.Version); a YubiKey before 5.7
// answers the probe 6D00. A card that does not answer GET VERSION (a
// standard PIV card) cannot move keys, and is not probed: F6 may be
// another vendor's instruction there.
func CanMoveKeys(ctx context.Context, c *piv.Card) (bool, error) {
	v, err := c.Version(ctx)
	switch {
	case errors.Is(err, piv.ErrUnsupported), errors.Is(err, piv.ErrNotFound):
		return false, nil
	case err != nil:
		return false, CardError(err, "reading the card's version failed")
	case v.AtLeast(5, 7, 0):
		return true, nil
	}
	ok, err := c.HasMoveKey(ctx)
	if err != nil {
		return false, CardError(err, "asking the card whether it can move keys failed")
	}
	return ok, nil
}

// MoveKey moves the private key in from to to (MOVE KEY, piv.Admin.MoveKey);
// the certificate objects stay where they are. Yubico documents that the
// destination must be empty: delete the key there first (DeleteKey) where
// the old key is no longer needed.
func MoveKey(ctx context.Context, a *piv.Admin, from, to piv.Slot) error {
	if err := a.MoveKey(ctx, from, to); err != nil {
		return CardError(err, "moving the key in slot "+SlotString(from)+" to slot "+SlotString(to)+" failed")
	}
	return nil
}

// DeleteKey deletes the private key in slot (DELETE KEY, piv.Admin.DeleteKey);
// the certificate object stays. A slot already without a key is no
// failure, so that a step resumed after a lost reply succeeds.
func DeleteKey(ctx context.Context, a *piv.Admin, slot piv.Slot) error {
	if err := a.DeleteKey(ctx, slot); err != nil && !errors.Is(err, piv.ErrNotFound) {
		return CardError(err, "deleting the key in slot "+SlotString(slot)+" failed")
	}
	return nil
}

// SlotPublicKey returns the public key of the key in slot as GET METADATA
// reports it, or nil without error when the slot holds no key. A card that
// cannot tell (no GET METADATA, or no public key in its answer) fails with
// an error that matches piv.ErrUnsupported.
func SlotPublicKey(ctx context.Context, c *piv.Card, slot piv.Slot) (crypto.PublicKey, error) {
	md, err := c.Metadata(ctx, slot.Ref())
	switch {
	case errors.Is(err, piv.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, CardError(err, "reading the key in slot "+SlotString(slot)+" failed")
	case md.PublicKey == nil:
		err := fmt.Errorf("%w: GET METADATA %02X answered no public key", piv.ErrUnsupported, byte(slot))
		return nil, CardError(err, "reading the key in slot "+SlotString(slot)+" failed")
	}
	return md.PublicKey, nil
}

// FreeRetiredSlot returns the first retired slot, from 95 down to 82, that
// holds neither a certificate object nor a key (GET METADATA answers not
// found), leaving out skip (the slot an update stages a new key in) and
// the slots the Key History Object counts (HistorySlots). The search runs
// downwards because the key history fills the retired slots from 82
// upwards (SP 800-73-4 Part 1, 3.3.2: keysWithOnCardCerts counts from
// 82). When none is free it fails with EConflict; a card without GET
// METADATA fails with an error that matches piv.ErrUnsupported.
func FreeRetiredSlot(ctx context.Context, c *piv.Card, skip ...piv.Slot) (piv.Slot, error) {
	history, err := HistorySlots(ctx, c)
	if err != nil {
		return 0, err
	}
	skip = append(skip, history...)
	for s := pivspec.SlotRetiredLast; s >= pivspec.SlotRetiredFirst; s-- {
		if containsSlot(skip, s) {
			continue
		}
		free, err := retiredSlotFree(ctx, c, s)
		if err != nil {
			return 0, err
		}
		if free {
			return s, nil
		}
	}
	return 0, lanyard.Errorf(lanyard.EConflict, "the card has no free retired slot (82 to 95, without certificate and key) to prepare the new key in; delete unused keys or certificates from it first")
}

// HistorySlots returns the retired slots the card's Key History Object
// counts as holding a key with its certificate: 82 up to
// 82+keysWithOnCardCerts−1. They belong to the key history even while a
// write of it is unfinished (a key imported, its certificate not yet), so
// an update never stages a key there.
func HistorySlots(ctx context.Context, c *piv.Card) ([]piv.Slot, error) {
	h, err := ReadKeyHistory(ctx, c)
	if err != nil {
		return nil, err
	}
	return RetiredSlots(h.OnCard), nil
}

// RetiredSlots returns the first n retired slots, 82 up.
func RetiredSlots(n int) []piv.Slot {
	out := make([]piv.Slot, 0, n)
	for i := 1; i <= n; i++ {
		if s, ok := pivspec.RetiredSlot(i); ok {
			out = append(out, s)
		}
	}
	return out
}

func containsSlot(slots []piv.Slot, s piv.Slot) bool {
	for _, x := range slots {
		if x == s {
			return true
		}
	}
	return false
}

// retiredSlotFree reports whether slot has neither a certificate object
// nor a key.
func retiredSlotFree(ctx context.Context, c *piv.Card, slot piv.Slot) (bool, error) {
	_, err := c.ReadObject(ctx, slot.Object())
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, piv.ErrNotFound):
		return false, CardError(err, "reading the certificate object of slot "+SlotString(slot)+" failed")
	}
	pub, err := SlotPublicKey(ctx, c, slot)
	if err != nil {
		return false, err
	}
	return pub == nil, nil
}

// ReadBack checks that slot holds cert and its key: the certificate object
// (GET DATA, decompressed) must be cert.Raw byte for byte, and the public
// key GET METADATA reports must be cert's. keyChecked is false when the
// card cannot tell its keys (a standard PIV card without GET METADATA);
// then only the object was compared. Any difference fails with EConflict.
func ReadBack(ctx context.Context, c *piv.Card, slot piv.Slot, cert *x509.Certificate) (keyChecked bool, err error) {
	name := SlotString(slot)
	got, err := c.Certificate(ctx, slot)
	switch {
	case errors.Is(err, piv.ErrNotFound):
		return false, lanyard.Errorf(lanyard.EConflict, "slot %s holds no certificate after it was written; the card was changed", name)
	case err != nil:
		return false, CardError(err, "reading back the certificate in slot "+name+" failed")
	case !bytes.Equal(got.Raw, cert.Raw):
		return false, lanyard.Errorf(lanyard.EConflict, "slot %s holds another certificate (serial %s) than the one written (serial %s); the card was changed", name, got.SerialNumber.Text(16), cert.SerialNumber.Text(16))
	}
	pub, err := SlotPublicKey(ctx, c, slot)
	switch {
	case errors.Is(err, piv.ErrUnsupported):
		return false, nil
	case err != nil:
		return false, err
	case pub == nil:
		return false, lanyard.Errorf(lanyard.EConflict, "slot %s holds no key for its certificate; the card was changed", name)
	case !PublicKeysEqual(pub, cert.PublicKey):
		return false, lanyard.Errorf(lanyard.EConflict, "the key in slot %s is not the certified key; the card was changed", name)
	}
	return true, nil
}
