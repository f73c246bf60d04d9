package cardops

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Initialize (wipe) is Clear's option for a card type that supports
// initialization (docs/lifecycle.md, "Clear and withdraw"): instead of
// deleting the certificates Lanyard wrote and resetting the PIN with the
// PUK, the whole card is reset as the issue's *Initialize card* does
// (personalize.Wipe: PIN and PUK blocked, vendor RESET, the card type's
// retry counters and defaults), so that nothing of anyone's is left on
// it. Everything else is Clear's: cardperm, the card proving it is the one
// recorded before anything is written, the operation on the runner, and
// the final transaction that revokes, withdraws and records.

// checkInitialize refuses Initialize for a card type that does not
// support it, before the card is touched.
func checkInitialize(in ClearInput, ct *lanyard.CardType) error {
	if in.Initialize && !ct.SupportsInit {
		return lanyard.Errorf(lanyard.EInvalid, "cards of type %s cannot be initialized (the card type does not support initialization); clear the card without initializing it", ct.Name)
	}
	return nil
}

// wipeCard initializes the card of run (one step, Initialized) and
// records what the card then is: its CHUID (RESET writes a new one, or
// none), no diversified management key, the card type's PUK.
func (s *Cards) wipeCard(ctx context.Context, run *operation.Run[clearData], cc *cardConn, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets) error {
	card := run.Card
	if _, err := personalize.Wipe(ctx, cc.pc, ct, secrets); err != nil {
		return err
	}
	id, err := personalize.Identify(ctx, cc.pc)
	if err != nil {
		return err
	}
	if id.Serial != card.Serial {
		return lanyard.Errorf(lanyard.EConflict, "card %s reports serial %s after initialization; register it again", card.Serial, id.Serial)
	}
	card.GUID = id.GUID
	card.AdminKeyVersion, card.CardID = 0, ""
	card.SealedPUK, card.PUKState, card.PUKReleasedAt = nil, lanyard.PUKDefault, time.Time{}
	run.Data.Initialized = true
	return run.Step(ctx, operation.Initialized, operation.WithCard())
}
