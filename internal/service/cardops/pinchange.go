package cardops

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// ChangePINInput is Change PIN: the card's current PIN and the new one.
// Where the card is may be given; by default it is found in a reader of
// its owner's workstations. Neither PIN is stored or logged.
type ChangePINInput struct {
	CardTarget
	OldPIN string
	NewPIN string
}

// ChangePIN changes the User PIN of the caller's card, connected at one of
// their workstations (docs/lifecycle.md, "Change PIN"): cardperm decides
// (only the owner, as their policy's Issued card operations allow, on an
// issued card), the new PIN must fit the card type's and the policy's PIN
// rules (those of the issue, issuance.PINRange), and the card does the
// rest: VERIFY with the old PIN, then CHANGE REFERENCE DATA (SP 800-73-4
// part 2, 3.2.1 and 3.2.2). A wrong old PIN costs one of the card's tries,
// as the card decides; the error says how many are left and an audit
// event (card.pin.change.fail) records it. The change is recorded as an
// operation in one transaction with its audit event, card.pin.change.
//
// It is not resumable, and need not be: it is one command to the card.
// If the card is pulled with the reply lost, the card holds one of the
// two PINs and the user tries again with either.
func (s *Cards) ChangePIN(ctx context.Context, p *lanyard.Principal, cardID int64, in ChangePINInput) (*CardView, error) {
	c, _, err := s.loadPINCard(ctx, p, cardID, cardperm.ChangePIN)
	if err != nil {
		return nil, err
	}
	lo, hi := issuance.PINRange(c.policy.Settings, c.ct)
	if in.OldPIN == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "enter the card's current PIN")
	}
	if err := issuance.CheckPIN("the current PIN", in.OldPIN, 1, max(hi, 8)); err != nil {
		return nil, err
	}
	if err := issuance.CheckPIN("the new PIN", in.NewPIN, lo, hi); err != nil {
		return nil, err
	}
	if in.NewPIN == in.OldPIN {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the new PIN must differ from the current one")
	}
	cc, err := s.openPINCard(ctx, p, c, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	if err := s.reloadPINCard(ctx, p, c, cc, cardperm.ChangePIN); err != nil {
		return nil, err
	}
	if err := personalize.CheckIdentity(c.card, cc.id); err != nil {
		return nil, err
	}
	card := c.card
	if err := cc.pc.VerifyPIN(ctx, in.OldPIN); err != nil {
		return nil, s.pinChangeRefused(ctx, p, card, err)
	}
	if err := cc.pc.ChangePIN(ctx, in.OldPIN, in.NewPIN); err != nil {
		return nil, s.pinChangeRefused(ctx, p, card, err)
	}
	was := card.UpdatedAt
	card.UpdatedAt = s.rec.Clock()
	// Recorded even if the caller went away: the card has the new PIN.
	run, err := operation.Once(context.WithoutCancel(ctx), s.runner, operation.Begin{
		Card: card, Op: lanyard.Operation{Kind: lanyard.OpChangePIN, UserID: card.OwnerID, ActorID: p.User.ID},
		Check: func(tx lanyard.Tx) error {
			if err := lockUnchanged(tx, card, was, "while its PIN was changed"); err != nil {
				return err
			}
			return s.pinRestored(tx, card.ID)
		},
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.rec.Event(p, "card.pin.change", "card", strconv.FormatInt(c.ID, 10), map[string]any{"serial": c.Serial, "operation": op.ID})
		}}, &struct{}{})
	if err != nil {
		return nil, err
	}
	return s.viewFor(ctx, p, run.Card)
}

// pinChangeRefused turns the card's refusal of a PIN change into the
// user's error; a wrong PIN is recorded (card.pin.change.fail, with the
// tries left), never the PIN.
func (s *Cards) pinChangeRefused(ctx context.Context, p *lanyard.Principal, card *lanyard.Card, err error) error {
	werr := personalize.PINRefused(err, "the current PIN")
	if werr == nil {
		return personalize.CardError(err, "changing the PIN")
	}
	if aerr := s.rec.Update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.pin.change.fail", "card", strconv.FormatInt(card.ID, 10), map[string]any{"serial": card.Serial, "tries_left": personalize.PINTriesLeft(err)})
	}, func(lanyard.Tx) error { return nil }); aerr != nil {
		s.log.Error("recording a refused PIN change failed", "card", card.ID, "err", aerr)
	}
	return werr
}
