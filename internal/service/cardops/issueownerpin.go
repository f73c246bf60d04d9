package cardops

import (
	"context"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A random PIN set while staff issue a card for someone else is not
// shown to them (unless the policy's "Show generated user PIN to
// administrator" says so): when the policy shows random PINs to the user,
// the server holds it sealed for its owner (lanyard.HeldPINOwner), who
// sees it once at their next login (Self-Service's Your cards), and it is
// erased then, or when it expires, or when the card is cleared.

// OwnerPINWindow is how long the owner's copy of a PIN set by someone
// else is held: a month covers a card handed over in person or sent by
// post and an owner away for a few weeks, while a PIN nobody came for
// does not stay in the database for the card's lifetime. After it the
// owner needs a PIN reset (their Admin PIN, or the help desk).
const OwnerPINWindow = 30 * 24 * time.Hour

// issueOwnerPINAAD binds the owner's sealed copy of an issue's random PIN
// to its operation (and apart from the mail copy, issuePINAAD).
func issueOwnerPINAAD(opID int64) []byte {
	return []byte("issue-owner-pin:" + strconv.FormatInt(opID, 10))
}

// keepPINForOwner seals j's random PIN for its owner when someone else
// runs the issue and the policy shows random PINs to the user, to be held
// by the issue's final step. A sealing failure is logged, not fatal (nil):
// the card is issued, and the PIN may still have been mailed.
func (s *Cards) keepPINForOwner(j *issueJob) *lanyard.HeldPIN {
	if j.user.ID == j.p.User.ID || !j.plan.ShowPIN {
		return nil
	}
	return s.ownerPINCopy(j.op.ID, j.card.ID, j.user.ID, j.plan.UserPIN)
}

// ownerPINCopy seals pin, set by operation opID on card cardID, for the
// card's owner to see once (OwnerPINWindow). A sealing failure is logged
// and gives nil: the card has its PIN, and it can be reset.
func (s *Cards) ownerPINCopy(opID, cardID, ownerID int64, pin string) *lanyard.HeldPIN {
	sealed, err := s.sealer.Seal([]byte(pin), issueOwnerPINAAD(opID))
	if err != nil {
		s.log.Error("sealing the random PIN for the card's owner failed", "card", cardID, "err", err)
		return nil
	}
	now := s.rec.Clock()
	return &lanyard.HeldPIN{OperationID: opID, Purpose: lanyard.HeldPINOwner, CardID: cardID, OwnerID: ownerID,
		Sealed: sealed, CreatedAt: now, ExpiresAt: now.Add(OwnerPINWindow)}
}

// IssuedPIN is a card issued for the caller by someone else whose random
// PIN waits to be shown to them once, until Until.
type IssuedPIN struct {
	CardID      int64
	Serial      string
	CardType    string
	OperationID int64
	IssuedBy    string
	Until       time.Time
}

// ShowIssuedPINInput names the issue whose PIN the owner asks for.
type ShowIssuedPINInput struct {
	OperationID int64
}

// ShownPIN is the random PIN, shown once.
type ShownPIN struct {
	PIN string
}

// IssuedPINs lists the caller's cards whose random PIN, set by someone
// who issued the card for them, waits to be shown (ShowIssuedPIN).
func (s *Cards) IssuedPINs(ctx context.Context, p *lanyard.Principal) ([]*IssuedPIN, error) {
	out := []*IssuedPIN{}
	now := s.rec.Clock()
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		held, err := tx.HeldPINsOf(p.User.ID, lanyard.HeldPINOwner)
		if err != nil {
			return err
		}
		for _, h := range held {
			if !now.Before(h.ExpiresAt) {
				continue // the purge has not run yet
			}
			card, err := tx.CardByID(h.CardID)
			if err != nil || card.OwnerID != p.User.ID {
				continue
			}
			it := &IssuedPIN{CardID: card.ID, Serial: card.Serial, CardType: card.CardType, OperationID: h.OperationID, Until: h.ExpiresAt}
			if op, err := tx.OperationByID(h.OperationID); err == nil {
				if by, err := tx.UserByID(op.ActorID); err == nil {
					it.IssuedBy = by.DisplayName
					if it.IssuedBy == "" {
						it.IssuedBy = by.Login
					}
				}
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// ShowIssuedPIN returns, once, the random PIN of a card someone else
// issued for the caller: the held copy is deleted in the transaction
// that records it (audit card.issue.pin_shown) before the PIN leaves the
// server; a second request finds none. The operation record is not
// written, so a Continue of the issue does not collide with it. Only
// the card's owner may ask, in their own browser session.
func (s *Cards) ShowIssuedPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in ShowIssuedPINInput) (*ShownPIN, error) {
	if err := pinInOwnSession(p); err != nil {
		return nil, err
	}
	var pin []byte
	err := s.rec.Update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.issue.pin_shown", "card", strconv.FormatInt(cardID, 10), map[string]any{"operation": in.OperationID})
	}, func(tx lanyard.Tx) error {
		if _, _, err := s.ownIssue(tx, p, cardID, in.OperationID); err != nil {
			return err
		}
		h, err := tx.HeldPIN(in.OperationID, lanyard.HeldPINOwner)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return lanyard.Errorf(lanyard.EConflict, "the PIN of this card is not kept: it was already shown to you, it was not set at random by someone else, or it was kept only %d days; the card's PIN has to be reset", int(OwnerPINWindow.Hours()/24))
		} else if err != nil {
			return err
		}
		if !s.rec.Clock().Before(h.ExpiresAt) {
			return lanyard.Errorf(lanyard.EConflict, "the PIN of this card is no longer kept: it was kept only %d days; the card's PIN has to be reset", int(OwnerPINWindow.Hours()/24))
		}
		if pin, err = s.sealer.Open(h.Sealed, issueOwnerPINAAD(h.OperationID)); err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "cannot open the sealed PIN")
		}
		return tx.DeleteHeldPIN(h.OperationID, lanyard.HeldPINOwner)
	})
	defer clear(pin)
	if err != nil {
		return nil, err
	}
	return &ShownPIN{PIN: string(pin)}, nil
}

// pinInOwnSession refuses a PIN to anything but the owner's own browser
// session: an API token may have been minted for the owner by an
// administrator (who must not see a PIN the policy hides from staff).
func pinInOwnSession(p *lanyard.Principal) error {
	if !p.Session || p.TokenID != 0 {
		return lanyard.Errorf(lanyard.EForbidden, "a card's PIN is shown or e-mailed only in your own browser session, not to an API token")
	}
	return nil
}
