package personalize

import (
	"bytes"
	"context"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Wipe initializes the card as the issue's *Initialize card* does
// (Initialize: vendor RESET, after the PIN and PUK are blocked, then the
// card type's retry counters) and then gives it the card type's own
// defaults where they differ from the factory's: the user PIN, the PUK
// and, for a card type with a static management key, that key. The card
// is then as the card type defines a card Lanyard never issued (TypeKeys),
// which is what it returns. A card type whose management key is
// diversified per card (AdminKeyRandom) keeps the factory key: the next
// issue takes the card over from it.
func Wipe(ctx context.Context, c *piv.Card, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets) (Keys, error) {
	factory, err := Initialize(ctx, c, ct.PIN.PINRetries, ct.PIN.PUKRetries)
	if err != nil {
		return Keys{}, err
	}
	want := TypeKeys(ct, secrets)
	if ct.AdminMode == lanyard.AdminKeyRandom {
		want.Admin = factory.Admin
	}
	if want.Admin.Kind != factory.Admin.Kind || !bytes.Equal(want.Admin.Value, factory.Admin.Value) {
		admin, err := AuthenticateStatic(ctx, c, factory.Admin)
		if err != nil {
			return Keys{}, err
		}
		alg, err := AdminAlg(want.Admin.Kind)
		if err != nil {
			return Keys{}, err
		}
		if err := admin.SetManagementKey(ctx, alg, want.Admin.Value); err != nil {
			return Keys{}, CardError(err, "setting the card type's management key after initialization failed")
		}
	}
	if want.PIN != factory.PIN {
		if err := c.ChangePIN(ctx, factory.PIN, want.PIN); err != nil {
			return Keys{}, CardError(err, "setting the card type's user PIN after initialization failed")
		}
	}
	if want.PUK != factory.PUK {
		if err := c.ChangePUK(ctx, factory.PUK, want.PUK); err != nil {
			return Keys{}, CardError(err, "setting the card type's Admin PIN after initialization failed")
		}
	}
	return want, nil
}
