package service

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A random PIN set while staff issue a card for someone else is not
// shown to them (unless the policy's "Show generated user PIN to
// administrator" says so): when the policy shows random PINs to the user,
// the operation keeps it sealed for its owner, who sees it once at their
// next login (Self-Service's Your cards), and it is erased then.

// issueOwnerPINAAD binds the owner's sealed copy of an issue's random PIN
// to its operation (and apart from the mail copy, issuePINAAD).
func issueOwnerPINAAD(opID int64) []byte {
	return []byte("issue-owner-pin:" + strconv.FormatInt(opID, 10))
}

// keepPINForOwner seals j's random PIN in the operation record for its
// owner when someone else runs the issue and the policy shows random PINs
// to the user. A sealing failure is logged, not fatal: the card is
// issued, and the PIN may still have been mailed.
func (s *Service) keepPINForOwner(j *issueJob) {
	if j.user.ID == j.p.User.ID || !j.plan.ShowPIN {
		return
	}
	sealed, err := s.sealer.Seal([]byte(j.plan.UserPIN), issueOwnerPINAAD(j.op.ID))
	if err != nil {
		s.log.Error("sealing the random PIN for the card's owner failed", "card", j.card.ID, "err", err)
		return
	}
	j.data.OwnerPIN = sealed
}

// IssuedPIN is a card issued for the caller by someone else whose random
// PIN waits to be shown to them once.
type IssuedPIN struct {
	CardID      int64  `json:"card_id"`
	Serial      string `json:"serial"`
	CardType    string `json:"card_type"`
	OperationID int64  `json:"operation_id"`
	IssuedBy    string `json:"issued_by"`
}

// ShowIssuedPINInput names the issue whose PIN the owner asks for.
type ShowIssuedPINInput struct {
	OperationID int64 `json:"operation_id"`
}

// ShownPIN is the random PIN, shown once.
type ShownPIN struct {
	PIN string `json:"pin"`
}

// issuedPINScan bounds how many of the caller's operations IssuedPINs
// reads: a person has a few cards, each with a few operations.
const issuedPINScan = 200

// IssuedPINs lists the caller's cards whose random PIN, set by someone
// who issued the card for them, waits to be shown (ShowIssuedPIN).
func (s *Service) IssuedPINs(ctx context.Context, p *Principal) ([]*IssuedPIN, error) {
	out := []*IssuedPIN{}
	err := s.view(ctx, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{UserID: p.User.ID, Limit: issuedPINScan})
		if err != nil {
			return err
		}
		for _, op := range ops {
			var d issueData
			if op.Kind != lanyard.OpIssue || json.Unmarshal(op.Data, &d) != nil || d.OwnerPIN == nil {
				continue
			}
			card, err := tx.CardByID(op.CardID)
			if err != nil || card.OwnerID != p.User.ID {
				continue // cleared and given to someone else since
			}
			it := &IssuedPIN{CardID: card.ID, Serial: card.Serial, CardType: card.CardType, OperationID: op.ID}
			if by, err := tx.UserByID(op.ActorID); err == nil {
				it.IssuedBy = by.DisplayName
				if it.IssuedBy == "" {
					it.IssuedBy = by.Login
				}
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// ShowIssuedPIN returns, once, the random PIN of a card someone else
// issued for the caller: the sealed copy is erased in the transaction
// that records it (audit card.issue.pin_shown) before the PIN leaves the
// server; a second request finds none. Only the card's owner may ask.
func (s *Service) ShowIssuedPIN(ctx context.Context, p *Principal, cardID int64, in ShowIssuedPINInput) (*ShownPIN, error) {
	if err := pinInOwnSession(p); err != nil {
		return nil, err
	}
	var op *lanyard.Operation
	var d issueData
	err := s.view(ctx, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(cardID)
		if err != nil || card.OwnerID != p.User.ID {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if op, err = tx.OperationByID(in.OperationID); err != nil || op.CardID != cardID || op.Kind != lanyard.OpIssue || op.UserID != p.User.ID {
			return lanyard.Errorf(lanyard.EInvalid, "operation %d is not an issue of card %d for you", in.OperationID, cardID)
		}
		return json.Unmarshal(op.Data, &d)
	})
	if err != nil {
		return nil, err
	}
	if d.OwnerPIN == nil {
		return nil, lanyard.Errorf(lanyard.EConflict, "the PIN of this card is not kept: it was already shown to you, or it was not set at random by someone else")
	}
	pin, err := s.sealer.Open(d.OwnerPIN, issueOwnerPINAAD(op.ID))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot open the sealed PIN")
	}
	defer clear(pin)
	d.OwnerPIN = nil
	if err := s.putIssueData(ctx, op, &d, s.event(p, "card.issue.pin_shown", "card", strconv.FormatInt(cardID, 10),
		map[string]any{"operation": op.ID})); err != nil {
		return nil, err
	}
	return &ShownPIN{PIN: string(pin)}, nil
}

// pinInOwnSession refuses a PIN to anything but the owner's own browser
// session: an API token may have been minted for the owner by an
// administrator (who must not see a PIN the policy hides from staff).
func pinInOwnSession(p *Principal) error {
	if p.TokenID != 0 {
		return lanyard.Errorf(lanyard.EForbidden, "a card's PIN is shown or e-mailed only in your own browser session, not to an API token")
	}
	return nil
}
