package cardops

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Leave is what LeaveTx did to a leaver's cards.
type Leave struct {
	Cards []LeftCard
}

// LeftCard is one card LeaveTx changed.
type LeftCard struct {
	ID     int64
	Serial string
	From   lanyard.CardState
	To     lanyard.CardState
}

// LeaveTx handles the cards of u, who left the organization (disabled or
// removed at their directory source, or deactivated by a SCIM client),
// in the caller's transaction tx, as action says (docs/directory.md,
// "Leavers"):
//
//   - lanyard.LeaverDisable (also ""): each issued card is disabled, its
//     certificates whose template says so put on hold (RFC 5280
//     certificateHold), as Disable card does; an operator's Enable card
//     brings it back if the person returns.
//   - lanyard.LeaverRevoke: each issued or disabled card is revoked with
//     the card reason withdrawn (certificates: affiliationChanged), as
//     Revoke card does.
//
// Under both, a card whose issue is unfinished (assigned, pending
// approval, PIN setup) is revoked as withdrawn: an issue for someone who
// left must not complete later (its CA requests are withdrawn, its
// operations fail). Clean, revoked and already disabled cards (under
// disable) are left alone, so LeaveTx is idempotent: a sync that runs
// again after a crash changes nothing more.
//
// The card workflows' permission rules (cardperm) are not asked: this is
// the organization's decision carried out for p (the system, for a sync
// or a push), not a person's request. Each card changed gets its own
// audit event (card.disable or card.revoke, with "leaver": true) in tx,
// as the card state operations record one per card; the caller records
// the user's change. No notice is mailed (the person left). Call Left
// with the result after tx commits.
func (s *Cards) LeaveTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u *lanyard.User, action lanyard.LeaverAction) (*Leave, error) {
	action = action.Or(lanyard.LeaverDisable)
	if _, err := lanyard.ParseLeaverAction(string(action)); err != nil {
		return nil, err
	}
	cards, err := tx.ListCards(lanyard.CardFilter{OwnerID: u.ID})
	if err != nil {
		return nil, err
	}
	out := &Leave{}
	for _, c := range cards {
		revoke := false
		switch c.State {
		case lanyard.CardAssigned, lanyard.CardPending, lanyard.CardPINSetup:
			revoke = true
		case lanyard.CardIssued:
			revoke = action == lanyard.LeaverRevoke
		case lanyard.CardDisabled:
			if action != lanyard.LeaverRevoke {
				continue
			}
			revoke = true
		default:
			continue
		}
		if err := tx.LockCard(c.ID); err != nil {
			return nil, err
		}
		card, err := tx.CardByID(c.ID) // read again under the lock
		if err != nil {
			return nil, err
		}
		if card.State != c.State {
			continue // changed since the list: the next run sees it
		}
		was := card.State
		event, details := "card.disable", map[string]any{}
		if revoke {
			event = "card.revoke"
			if details, err = s.revokeInTx(ctx, tx, p, card, lanyard.CardWithdrawn, "the card's owner left"); err != nil {
				return nil, err
			}
			details["reason"] = string(lanyard.CardWithdrawn)
		} else {
			held, err := s.holdCertificates(ctx, tx, card, true)
			if err != nil {
				return nil, err
			}
			card.State, details["held"] = lanyard.CardDisabled, held
		}
		card.UpdatedAt = s.rec.Clock()
		if err := notifyAirCards(tx, card.ID); err != nil {
			return nil, err
		}
		if err := tx.UpdateCard(card); err != nil {
			return nil, err
		}
		details["serial"], details["from"], details["to"], details["leaver"], details["owner"] = card.Serial, string(was), string(card.State), true, u.Login
		if err := tx.AppendAudit(s.rec.Event(p, event, "card", strconv.FormatInt(card.ID, 10), details)); err != nil {
			return nil, err
		}
		out.Cards = append(out.Cards, LeftCard{ID: card.ID, Serial: card.Serial, From: was, To: card.State})
	}
	return out, nil
}
