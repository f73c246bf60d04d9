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
// standard PIV card does not know the instruction; that is not an error:
// it is unblocked offline by other means, or not at all.
func EnableOfflineUnblock(ctx context.Context, admin *piv.Admin, diversified Key, serial string) error {
	key, err := unblockcode.MACKey(diversified.Value, serial)
	if err != nil {
		return err
	}
	err = admin.SetOfflineKey(ctx, key)
	if errors.Is(err, piv.ErrUnsupported) {
		return nil
	}
	if err != nil {
		return CardError(err, "giving the card its offline unblock key")
	}
	return nil
}
