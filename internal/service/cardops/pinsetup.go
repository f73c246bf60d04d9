package cardops

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PINSetupInput is Set up PIN of a platform credential: the user's
// password and a code from their authenticator app (the step-up of the
// Windows Hello for Business model), and the PIN they choose. Where the
// card is may be given; by default it is found in the readers of the
// workstation it lives on. None of it is stored or logged.
type PINSetupInput struct {
	CardTarget
	Password string
	Code     string
	PIN      string
}

// SetupPIN sets the PIN of a platform credential that waits for it: the
// caller, its owner, proves the password and a second factor, and the
// PIN is set on the card with the credential's own PUK, sealed on the
// server since the issue (the credential was made with a random PIN
// nobody saw). One transaction and audit event
// record it; the card is then issued.
func (s *Cards) SetupPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in PINSetupInput) (*CardView, error) {
	var card *lanyard.Card
	var ct *lanyard.CardType
	load := func() error {
		return s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
			if card, err = tx.CardByID(cardID); err != nil {
				return err
			}
			if card.OwnerID != p.User.ID {
				// Only its user sets a credential's PIN: the step-up
				// proves who sits at the workstation.
				return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
			}
			ct, err = tx.CardTypeByName(card.CardType)
			return err
		})
	}
	if err := load(); err != nil {
		return nil, err
	}
	if ct.Kind != lanyard.KindPlatformCredential || card.State != lanyard.CardPINSetup {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no PIN to set up (only a newly issued platform credential has)", card.Serial)
	}
	min, max := ct.PIN.MinLength, ct.PIN.MaxLength
	if err := issuance.CheckPIN("PIN", in.PIN, min, max); err != nil {
		return nil, err
	}
	if err := s.elsewhere(in.CardTarget, func() (CardTarget, error) { return s.locateCard(card) }); err != nil {
		return nil, err // before the step-up spends the code
	}
	if err := s.secondFactor.VerifySecondFactor(ctx, p, in.Password, in.Code); err != nil {
		return nil, err
	}
	t := in.CardTarget
	if t.Reader == "" {
		var err error
		if t, err = s.locateCard(card); err != nil {
			return nil, err
		}
	}
	t.User = ""
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	if err := load(); err != nil { // again, inside the exclusive session
		return nil, err
	}
	if card.State != lanyard.CardPINSetup {
		return nil, lanyard.Errorf(lanyard.EConflict, "the PIN of card %s was set up meanwhile", card.Serial)
	}
	if cc.serial != card.Serial {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", cc.r.Name, cc.serial, card.Serial)
	}
	// The card must be the one recorded before its PUK is sent, and prove
	// it holds its diversified management key where it has one: a card
	// that copies the serial and CHUID does not have the key.
	if err := personalize.CheckPUKHolder(card, cc.id); err != nil {
		return nil, err
	}
	if card.AdminKeyVersion > 0 {
		if _, err := s.derivedAdmin(ctx, cc.pc, ct, card, cc.id); err != nil {
			return nil, err
		}
	}
	// Issued before credentials got their own PUK: the card type's, or
	// a rotation's pending one.
	secrets, err := s.catalog.CardTypeSecrets(ct)
	if err != nil {
		return nil, err
	}
	candidates, err := s.pukCandidates(card, personalize.TypePUK(secrets))
	if err != nil {
		return nil, err
	}
	used, err := personalize.UsePUK(ctx, cc.pc, candidates, false, "setting the PIN failed", func(puk string) error {
		return cc.pc.UnblockPIN(ctx, puk, in.PIN)
	})
	if err != nil {
		return nil, err
	}
	if len(used.Sealed) > 0 {
		card.SealedPUK, card.PUKState = used.Sealed, lanyard.PUKRandom
	}
	card.State, card.UpdatedAt = lanyard.CardIssued, s.rec.Clock()
	var view *CardView
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.pin_setup", "card", strconv.FormatInt(card.ID, 10), map[string]any{"serial": card.Serial})
	}, func(tx lanyard.Tx) error {
		if err := tx.UpdateCard(card); err != nil {
			return err
		}
		view, err = s.cardView(tx, card, false)
		return err
	})
	return view, err
}

// locateCard finds the reader that holds card at the workstation it
// lives on (virtual cards do not move).
func (s *Cards) locateCard(card *lanyard.Card) (CardTarget, error) {
	if ca := s.cardAccess(); ca != nil && card.WorkstationID != 0 {
		if ws, ok := ca.WorkstationState(card.WorkstationID); ok {
			for _, r := range ws.Readers {
				if r.Present && r.Serial == card.Serial {
					return CardTarget{WorkstationID: ws.ID, Reader: r.Name}, nil
				}
			}
		}
	}
	return CardTarget{}, lanyard.Errorf(lanyard.EUnavailable, "card %s is not connected: its workstation's agent must be running", card.Serial)
}

// hasSecondFactor reports whether u can prove a second factor for Set up
// PIN: a confirmed authenticator app (TOTP).
func (s *Cards) hasSecondFactor(_ context.Context, tx lanyard.Tx, u *lanyard.User) (bool, error) {
	e, err := tx.TOTPEnrollment(u.ID)
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return e.Confirmed(), nil
}
