package personalize

import (
	"context"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// EnableOfflineUnblock gives a Lanyard card (the emulator, an AirCard)
// the key it checks offline unblock responses with: HKDF of the card's
// diversified management key, bound to its serial (unblockcode.MACKey),
// which the server derives again to answer a challenge. Only a card with
// a management key of its own gets it, so no shared or default key ever
// unblocks a card offline (docs/lifecycle.md, "Offline unblock"). A
// standard PIV card does not know the instruction (6E00 or 6D00); that
// is not an error: it is unblocked offline by releasing its PUK. The
// scheme returned says which: SchemeLanyardMAC when the card took the
// key, SchemePIVPUK when it does not know the instruction. The server
// records it with the card and answers only challenges of that scheme.
func EnableOfflineUnblock(ctx context.Context, admin *piv.Admin, diversified Key, serial string) (unblockcode.Scheme, error) {
	key, err := unblockcode.MACKey(diversified.Value, serial)
	if err != nil {
		return 0, err
	}
	err = admin.SetOfflineKey(ctx, key)
	if errors.Is(err, piv.ErrUnsupported) {
		return unblockcode.SchemePIVPUK, nil
	}
	if err != nil {
		return 0, CardError(err, "giving the card its offline unblock key")
	}
	return unblockcode.SchemeLanyardMAC, nil
}

// ProbeOfflineScheme is the offline scheme of a card whose management key
// is shared (a card type's static key), which gets no offline key:
// SchemePIVPUK for a standard PIV card (piv.Card.KnowsLanyardInstructions
// false), SchemeLanyardMAC for one of Lanyard's (which the server does not
// answer without a management key of the card's own). Nothing on the
// card changes.
func ProbeOfflineScheme(ctx context.Context, pc *piv.Card) (unblockcode.Scheme, error) {
	lanyardCard, err := pc.KnowsLanyardInstructions(ctx)
	if err != nil {
		return 0, CardError(err, "asking the card whether it is one of Lanyard's")
	}
	if lanyardCard {
		return unblockcode.SchemeLanyardMAC, nil
	}
	return unblockcode.SchemePIVPUK, nil
}
