package personalize

import (
	"context"
	"crypto/x509"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RetireKey keeps the key management key in slot from, certified by cert,
// as an earlier key on the card (SP 800-73-4 Part 1, 3.3.2): the key is
// moved (MOVE KEY) into retired slot to, cert written into to's
// certificate object, and the Key History Object made to count to
// (keysWithOnCardCerts), so that clients (OpenSC) list the key and mail
// encrypted to cert still opens. to must be the next retired slot after
// those the Key History Object counts (82 + keysWithOnCardCerts), which
// keeps the history contiguous from 82.
//
// Each step looks at the card first, so that a run resumed after a
// pulled card or a lost reply finishes it without repeating what was
// done: the key already in to is not moved again (a stale key there, one
// that is not cert's, is deleted before the move), and a history that
// counts to already is left as it is. A key in neither slot is an error:
// the card was changed.
func RetireKey(ctx context.Context, c *piv.Card, a *piv.Admin, from, to piv.Slot, cert *x509.Certificate) error {
	h, err := ReadKeyHistory(ctx, c)
	if err != nil {
		return err
	}
	n := int(to-pivspec.SlotRetiredFirst) + 1
	if to < pivspec.SlotRetiredFirst || to > pivspec.SlotRetiredLast || n > h.OnCard+1 {
		return lanyard.Errorf(lanyard.EConflict, "retired slot %s does not follow the card's key history (%d keys)", SlotString(to), h.OnCard)
	}
	there, err := SlotPublicKey(ctx, c, to)
	if err != nil {
		return CardError(err, "reading the key in retired slot "+SlotString(to))
	}
	if there == nil || !PublicKeysEqual(there, cert.PublicKey) {
		here, err := SlotPublicKey(ctx, c, from)
		if err != nil {
			return CardError(err, "reading the key in slot "+SlotString(from))
		}
		if here == nil || !PublicKeysEqual(here, cert.PublicKey) {
			return lanyard.Errorf(lanyard.EConflict, "neither slot %s nor retired slot %s holds the key of certificate %s; the card was changed", SlotString(from), SlotString(to), cert.SerialNumber.Text(16))
		}
		if there != nil {
			// A key an earlier update staged and left: MOVE KEY needs an
			// empty slot.
			if err := DeleteKey(ctx, a, to); err != nil {
				return err
			}
		}
		if err := MoveKey(ctx, a, from, to); err != nil {
			return err
		}
	}
	if cur, err := c.Certificate(ctx, to); err != nil || !cur.Equal(cert) {
		if err != nil && !errors.Is(err, piv.ErrNotFound) {
			return CardError(err, "reading retired slot "+SlotString(to))
		}
		if err := a.PutCertificate(ctx, to, cert); err != nil {
			return CardError(err, "writing the earlier certificate to slot "+SlotString(to)+" failed")
		}
	}
	if h.OnCard >= n {
		return nil
	}
	h.OnCard = n
	if err := a.WriteObject(ctx, pivspec.ObjectKeyHistory, h.Encode()); err != nil {
		return CardError(err, "writing the key history object failed")
	}
	return nil
}
