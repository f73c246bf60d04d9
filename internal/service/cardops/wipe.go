package cardops

import (
	"context"
	"encoding/json"
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

// interruptedInit reports whether card's last operation, of any kind, is
// a Revoke and clear that stopped while it initialized the card (step
// Initializing, not done; a later operation proved the card since): the card
// may have been RESET since — a new CHUID or none, the factory
// management key — so it can no longer prove itself as its record says,
// and the retry must initialize it again (proveInterruptedInit), at the
// workstation it reports (0: not recorded, an operation from before).
func (s *Cards) interruptedInit(ctx context.Context, cardID int64) (bool, int64, error) {
	var last *lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Limit: 1})
		if len(ops) > 0 {
			last = ops[0]
		}
		return err
	})
	if err != nil || last == nil || last.Kind != lanyard.OpClear || last.Step != string(operation.Initializing) || last.State == lanyard.OpDone {
		return false, 0, err
	}
	var d clearData
	_ = json.Unmarshal(last.Data, &d) // an unreadable record names no workstation
	return true, d.Workstation, nil
}

// proveInterruptedInit accepts for the retry of an interrupted
// initialization, at the workstation where it ran (clear.go), the card
// in the reader (cc) if it is card: its serial,
// and either the CHUID and management key its record holds (the RESET
// had not come) or the card type's or the factory management key (it
// had). A wipe sends the card nothing of the card's own — no PUK, no
// diversified key, only the card type's defaults any new card gets — so
// a static key is proof enough for it, not for anything else.
func (s *Cards) proveInterruptedInit(ctx context.Context, cc *cardConn, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets, card *lanyard.Card) error {
	if cc.id.Serial != card.Serial {
		return lanyard.Errorf(lanyard.EConflict, "the card is %s, not card %s", cc.id.Serial, card.Serial)
	}
	if personalize.CheckPUKHolder(card, cc.id) == nil {
		if _, err := s.authenticateCard(ctx, cc, ct, secrets, card); err == nil {
			return nil
		}
	}
	for _, k := range []personalize.Key{personalize.TypeKeys(ct, secrets).Admin, personalize.FactoryKeys().Admin} {
		if _, err := personalize.AuthenticateStatic(ctx, cc.pc, k); err == nil {
			return nil
		}
	}
	return lanyard.Errorf(lanyard.EConflict, "card %s does not prove it is the card whose initialization was interrupted (neither its recorded management key nor a default one); ask an operator", card.Serial)
}

// wipeCard initializes the card of run (steps Initializing, then
// Initialized) and
// records what the card then is: its CHUID (RESET writes a new one, or
// none), no diversified management key, the card type's PUK.
func (s *Cards) wipeCard(ctx context.Context, run *operation.Run[clearData], cc *cardConn, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets) error {
	card := run.Card
	// Recorded before the RESET: a card pulled after it no longer has
	// the CHUID or the management key its record holds, and only this
	// step lets a retry accept it (interruptedInit).
	run.Data.Workstation = cc.ws.ID
	if err := run.Step(ctx, operation.Initializing); err != nil {
		return err
	}
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
