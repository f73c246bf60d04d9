package cardops

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card checks an update needs beyond personalize's (CanMoveKeys,
// MoveKey, DeleteKey, ReadBack): a spare retired slot to build a new key
// in, whose key a slot holds, and whether a slot is empty.

// freeRetiredSlot finds a retired key management slot without a
// certificate object (empty, or holding only a key an earlier update
// staged and never used), from 95 downward (retired slots fill from
// 82 upward with the key history, SP 800-73-4 part 1, 3.3.2), skipping
// skip (slots this update stages in already) and the key history's
// slots: those the card's Key History Object counts and the first
// history ones, which this operation recorded to write there.
func freeRetiredSlot(ctx context.Context, pc *piv.Card, skip map[string]string, history int) (piv.Slot, error) {
	taken := map[piv.Slot]bool{}
	for _, r := range skip {
		if s, err := personalize.ParseSlot(r); err == nil {
			taken[s] = true
		}
	}
	counted, err := personalize.HistorySlots(ctx, pc)
	if err != nil {
		return 0, err
	}
	for _, s := range append(counted, personalize.RetiredSlots(history)...) {
		taken[s] = true
	}
	for s := pivspec.SlotRetiredLast; s >= pivspec.SlotRetiredFirst; s-- {
		if taken[s] {
			continue
		}
		if _, err := pc.Certificate(ctx, s); !errors.Is(err, piv.ErrNotFound) {
			if err != nil {
				return 0, personalize.CardError(err, "reading retired slot "+personalize.SlotString(s))
			}
			continue
		}
		// A key without a certificate is a staged key an update left
		// (cancelled, or failed): GENERATE replaces it.
		return s, nil
	}
	return 0, lanyard.Errorf(lanyard.EConflict, "the card has no free retired key slot to build a new key in; clear old keys from it or replace the card")
}

// slotKeyMatches reports whether slot's key is the one cert certifies:
// known false when the slot holds another key or none, and ok false when
// the card cannot tell (no GET METADATA: a standard PIV card).
func slotKeyMatches(ctx context.Context, pc *piv.Card, slot piv.Slot, cert *x509.Certificate) (match, ok bool, err error) {
	md, err := pc.Metadata(ctx, slot.Ref())
	switch {
	case errors.Is(err, piv.ErrUnsupported):
		return false, false, nil
	case errors.Is(err, piv.ErrNotFound):
		return false, true, nil
	case err != nil:
		return false, false, personalize.CardError(err, "reading the key in slot "+personalize.SlotString(slot))
	}
	return md.PublicKey != nil && personalize.PublicKeysEqual(md.PublicKey, cert.PublicKey), true, nil
}

// slotEmpty checks that slot holds no certificate object and, when the
// card can tell and key is set, no key.
func slotEmpty(ctx context.Context, pc *piv.Card, slot piv.Slot, key bool) error {
	name := personalize.SlotString(slot)
	if _, err := pc.Certificate(ctx, slot); !errors.Is(err, piv.ErrNotFound) {
		if err != nil {
			return personalize.CardError(err, "reading back slot "+name)
		}
		return lanyard.Errorf(lanyard.EConflict, "slot %s still holds a certificate after it was deleted", name)
	}
	if !key {
		return nil
	}
	if _, err := pc.Metadata(ctx, slot.Ref()); err == nil {
		return lanyard.Errorf(lanyard.EConflict, "slot %s still holds a key after it was deleted", name)
	} else if !errors.Is(err, piv.ErrNotFound) && !errors.Is(err, piv.ErrUnsupported) {
		return personalize.CardError(err, "reading back the key of slot "+name)
	}
	return nil
}
