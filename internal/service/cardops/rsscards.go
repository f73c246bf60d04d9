package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RSSCard is a card as Remote Self-Service shows it: what identifies it
// to its owner, its state, and the operations cardperm allows through
// Remote Self-Service (docs/lifecycle.md, "Remote Self-Service").
type RSSCard struct {
	ID         int64
	Serial     string
	CardType   string
	Kind       lanyard.CardKind
	Name       string
	State      lanyard.CardState
	IssuedAt   string // YYYY-MM-DD, "" before issue
	Operations []cardperm.Op
}

// RemoteSelfServiceCards lists the cards of a Remote Self-Service
// principal with the operations its owner's policy allows through that
// channel (cardperm.Check with the owner's policy, as every operation
// checks before it starts). Only a Remote Self-Service principal asks:
// signed-in callers have the card views.
func (s *Cards) RemoteSelfServiceCards(ctx context.Context, p *lanyard.Principal) ([]*RSSCard, error) {
	if p == nil || !p.RemoteSelfService || p.User == nil {
		return nil, lanyard.Errorf(lanyard.EForbidden, "this list is for Remote Self-Service")
	}
	out := []*RSSCard{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		pol, err := s.catalog.PolicyFor(tx, p.User)
		if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		cards, err := tx.ListCards(lanyard.CardFilter{OwnerID: p.User.ID, Limit: 100})
		if err != nil {
			return err
		}
		for _, c := range cards {
			if c.State == lanyard.CardClean {
				continue // registered, never issued: nothing of the user's on it
			}
			rc := &RSSCard{ID: c.ID, Serial: c.Serial, CardType: c.CardType, Name: c.Name, State: c.State, Operations: []cardperm.Op{}}
			if !c.IssuedAt.IsZero() {
				rc.IssuedAt = c.IssuedAt.Format("2006-01-02")
			}
			if ct, err := tx.CardTypeByName(c.CardType); err == nil {
				rc.Kind = ct.Kind
			}
			if pol != nil { // no policy applies: nothing is allowed
				d := cardperm.Allowed(cardperm.ActorOf(p), pol.Settings.Workflow, cardperm.Card{State: c.State, OwnerID: c.OwnerID, OwnerRoles: p.User.Roles})
				rc.Operations = d.Ops
			}
			out = append(out, rc)
		}
		return nil
	})
	return out, err
}
