package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINRule is the PIN length a card's owner's policy allows on it
// (issuance.PINRange): what a PIN set on the workstation without the
// server must fit (review L6).
type PINRule struct {
	Serial, CardType     string
	MinLength, MaxLength int
	// Owned: the card is the workstation owner's (AcceptPUKEscrow takes
	// its escrow from the workstation).
	Owned bool
}

// maxPINRuleCards bounds the cards PINRulesAt lists.
const maxPINRuleCards = 200

// PINRulesAt returns the PIN rules of the issued cards of ownerID (0:
// none) and of those last seen at workstation wsID: the cards a
// workstation's command line may set a PIN on. Software stores have no
// card PIN and are left out.
func (s *Cards) PINRulesAt(ctx context.Context, wsID, ownerID int64) ([]PINRule, error) {
	var out []PINRule
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		filters := []lanyard.CardFilter{{WorkstationID: wsID, State: lanyard.CardIssued, Limit: maxPINRuleCards}}
		if ownerID != 0 {
			filters = append(filters, lanyard.CardFilter{OwnerID: ownerID, State: lanyard.CardIssued, Limit: maxPINRuleCards})
		}
		seen := map[int64]bool{}
		types := map[string]*lanyard.CardType{}
		policies := map[int64]*lanyard.Policy{}
		for _, f := range filters {
			cards, err := tx.ListCards(f)
			if err != nil {
				return err
			}
			for _, c := range cards {
				if seen[c.ID] || c.OwnerID == 0 {
					continue
				}
				seen[c.ID] = true
				r, ok, err := s.pinRuleOf(tx, c, types, policies)
				if err != nil {
					return err
				}
				if ok {
					r.Owned = ownerID != 0 && c.OwnerID == ownerID
					out = append(out, r)
				}
			}
		}
		return nil
	})
	return out, err
}

// pinRuleOf is c's rule, reading its type and its owner's policy once
// per PINRulesAt (types, policies); ok is false for a software store or
// an owner no policy applies to (no PIN is set under no policy).
func (s *Cards) pinRuleOf(tx lanyard.Tx, c *lanyard.Card, types map[string]*lanyard.CardType, policies map[int64]*lanyard.Policy) (PINRule, bool, error) {
	ct, ok := types[c.CardType]
	if !ok {
		var err error
		if ct, err = tx.CardTypeByName(c.CardType); err != nil {
			return PINRule{}, false, err
		}
		types[c.CardType] = ct
	}
	if ct.Kind == lanyard.KindSoftwareStore {
		return PINRule{}, false, nil
	}
	pol, ok := policies[c.OwnerID]
	if !ok {
		owner, err := tx.UserByID(c.OwnerID)
		if err != nil {
			return PINRule{}, false, err
		}
		pol, err = s.catalog.PolicyFor(tx, owner)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			pol, err = nil, nil
		}
		if err != nil {
			return PINRule{}, false, err
		}
		policies[c.OwnerID] = pol
	}
	if pol == nil {
		return PINRule{}, false, nil
	}
	lo, hi := issuance.PINRange(pol.Settings, ct)
	return PINRule{Serial: c.Serial, CardType: c.CardType, MinLength: lo, MaxLength: hi}, true, nil
}
