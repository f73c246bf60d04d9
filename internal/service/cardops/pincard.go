package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// What Change PIN and Reset user PIN share: the card, its owner, the
// owner's policy (which decides who may do what, docs/lifecycle.md) and
// the card type (which bounds the PIN), and finding the card in a reader.

// pinCard is a card whose PIN is to be changed or reset, as read.
type pinCard struct {
	card   *lanyard.Card
	owner  *lanyard.User
	ct     *lanyard.CardType
	policy *lanyard.Policy
}

// permCard is what cardperm needs to know of the card.
func (c *pinCard) permCard() cardperm.Card {
	return cardperm.Card{State: c.card.State, OwnerID: c.card.OwnerID, OwnerRoles: c.owner.Roles}
}

// loadPINCard reads card cardID for a PIN operation op started by p and
// checks that p may start it (cardperm.Check with the owner's policy):
// a card p may not see is not found. Only cards with a PIV PIN (smart
// cards, TPM virtual cards, AirCards, platform credentials) have one.
func (s *Cards) loadPINCard(ctx context.Context, p *lanyard.Principal, cardID int64, op cardperm.Op) (*pinCard, cardperm.Decision, error) {
	var c pinCard
	var dec cardperm.Decision
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if c.card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if c.card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if op == cardperm.ChangePIN && c.card.OwnerID != p.User.ID {
			return lanyard.Errorf(lanyard.EForbidden, "only the card's owner changes its PIN: it needs the current one")
		}
		if c.card.OwnerID == 0 {
			return lanyard.Errorf(lanyard.EConflict, "card %s has no owner: %s is not possible", c.card.Serial, cardperm.Label(op))
		}
		if c.owner, err = tx.UserByID(c.card.OwnerID); err != nil {
			return err
		}
		if c.ct, err = tx.CardTypeByName(c.card.CardType); err != nil {
			return err
		}
		c.policy, err = s.catalog.PolicyFor(tx, c.owner)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			// No policy applies to the owner: it grants nothing.
			c.policy, err = &lanyard.Policy{}, nil
		}
		return err
	})
	if err != nil {
		return nil, dec, err
	}
	if c.ct.Kind == lanyard.KindSoftwareStore {
		return nil, dec, lanyard.Errorf(lanyard.EConflict, "%s has no card PIN: a software store's key container password is set at its issue", c.card.Serial)
	}
	actor := cardperm.ActorOf(p)
	if err := cardperm.Check(actor, c.policy.Settings.Workflow, c.permCard(), op); err != nil {
		return nil, dec, err
	}
	return &c, cardperm.Allowed(actor, c.policy.Settings.Workflow, c.permCard()), nil
}

// reloadPINCard reads the card again inside the exclusive card session and
// checks that op is still allowed and that the card in the reader (cc) is
// the card: another request may have disabled or revoked it meanwhile.
func (s *Cards) reloadPINCard(ctx context.Context, p *lanyard.Principal, c *pinCard, cc *cardConn, op cardperm.Op) error {
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { c.card, err = tx.CardByID(c.card.ID); return }); err != nil {
		return err
	}
	if err := cardperm.Check(cardperm.ActorOf(p), c.policy.Settings.Workflow, c.permCard(), op); err != nil {
		return err
	}
	if cc.serial != c.card.Serial {
		return lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", cc.r.Name, cc.serial, c.card.Serial)
	}
	return nil
}

// findCard finds the reader holding card: a virtual card at the
// workstation it lives on, else a reader of its owner's workstations or,
// for staff acting on someone's card, of the caller's.
func (s *Cards) findCard(p *lanyard.Principal, card *lanyard.Card) (CardTarget, error) {
	if t, err := s.locateCard(card); err == nil {
		return t, nil
	}
	access := s.cardAccess()
	if access == nil {
		return CardTarget{}, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	states := access.Workstations(card.OwnerID)
	if p.User.ID != card.OwnerID {
		states = append(states, access.Workstations(p.User.ID)...)
	}
	for _, ws := range states {
		if !ws.Online {
			continue
		}
		for _, r := range ws.Readers {
			if r.Present && r.Serial == card.Serial {
				return CardTarget{WorkstationID: ws.ID, Reader: r.Name}, nil
			}
		}
	}
	return CardTarget{}, lanyard.Errorf(lanyard.EUnavailable, "card %s is not connected: put it in a reader of a workstation whose agent is running", card.Serial)
}

// openPINCard opens the card of c where t says, or where findCard finds
// it.
func (s *Cards) openPINCard(ctx context.Context, p *lanyard.Principal, c *pinCard, t CardTarget) (*cardConn, error) {
	if t.Reader == "" {
		var err error
		if t, err = s.findCard(p, c.card); err != nil {
			return nil, err
		}
	}
	t.User = ""
	return s.openPIV(ctx, p, t)
}
