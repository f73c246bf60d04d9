package cardops

import (
	"context"
	"errors"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Cards issued before cards got their own PUK (issue 13) still hold the
// card type's shared default (puk_state default, migration 0013). Each
// gets its own random PUK at its next connection: the agent hub calls
// RotateSharedPUK when a card arrives in a reader. A card whose PUK was
// chosen at such an issue (unknown) cannot be changed without it: its
// next issue or Revoke and clear asks for it.

// rotatable are the states of cards in someone's hands; a clean card is
// in stock and gets its PUK at its issue, an assigned one is being issued.
func rotatable(c *lanyard.Card) bool {
	switch c.State {
	case lanyard.CardIssued, lanyard.CardPending, lanyard.CardPINSetup, lanyard.CardDisabled:
		return c.PUKState == lanyard.PUKDefault
	}
	return false
}

// arrivalCard returns the card with serial for which want holds (whose
// PUK is to be replaced), or nil.
func (s *Cards) arrivalCard(ctx context.Context, serial string, want func(*lanyard.Card) bool) (*lanyard.Card, *lanyard.CardType, error) {
	var card *lanyard.Card
	var ct *lanyard.CardType
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		for _, t := range types {
			c, err := tx.CardBySerial(t.Name, serial)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if want(c) {
				card, ct = c, t
				return nil
			}
		}
		return nil
	})
	return card, ct, err
}

// RotateSharedPUK gives the card with serial, just connected in reader of
// workstation wsID, its own random PUK when its record says it still has
// the card type's shared default. It reports whether it did. Like the
// issue's PUK step it is resumable: the new PUK is drawn and recorded
// sealed with the card (one transaction, audit event card.puk.rotate.start)
// before it is sent; the card is then recorded as having it (one
// transaction, card.puk.rotate). A run after an interruption that lost
// the card's reply finds the card holding either PUK.
func (s *Cards) RotateSharedPUK(ctx context.Context, wsID int64, reader, serial string) (bool, error) {
	card, ct, err := s.arrivalCard(ctx, serial, rotatable)
	if card == nil || err != nil {
		return false, err
	}
	if op, err := s.unfinishedReset(ctx, card.ID); err != nil || op != nil {
		return false, err // a PIN reset under way sets the PUK itself (pinreset.go)
	}
	pc, sess, shared, err := s.arrivalSession(ctx, wsID, reader, serial, ct, card, rotatable)
	if pc == nil || err != nil {
		return false, err
	}
	defer sess.Close()
	// The shared PUK, and after a change whose reply was lost the new one
	// (changing it to itself shows it, and restores the tries): listed
	// before a new one is drawn, which is not on the card.
	candidates, err := s.pukCandidates(card, shared)
	if err != nil {
		return false, err
	}
	if len(card.SealedPUK) == 0 {
		sealed, err := s.randomPUK(card.ID)
		if err != nil {
			return false, err
		}
		card.SealedPUK = sealed
		if err := s.recordPUK(ctx, card, "card.puk.rotate.start"); err != nil {
			return false, err
		}
	}
	want, err := s.openPUK(card.ID, card.SealedPUK)
	if err != nil {
		return false, err
	}
	_, err = personalize.UsePUK(ctx, pc, candidates, true, "giving card "+card.Serial+" its own Admin PIN (PUK)", func(cur string) error {
		return pc.ChangePUK(ctx, cur, want)
	})
	if errors.Is(err, personalize.ErrWrongPUK) {
		// The owner changed it, or the card type's default changed: the
		// server does not know it and never guesses again.
		card.PUKState, card.SealedPUK = lanyard.PUKUnknown, nil
		if rerr := s.recordPUK(context.WithoutCancel(ctx), card, "card.puk.unknown"); rerr != nil {
			return false, rerr
		}
		return false, err
	}
	if err != nil {
		return false, err
	}
	card.PUKState = lanyard.PUKRandom
	if err := s.recordPUK(context.WithoutCancel(ctx), card, "card.puk.rotate"); err != nil {
		return false, err
	}
	return true, nil
}

// recordPUK stores card's PUK fields, provided the card did not change
// since it was read, with one audit event (which never holds the PUK).
func (s *Cards) recordPUK(ctx context.Context, card *lanyard.Card, action string) error {
	was := card.UpdatedAt
	next := *card
	next.UpdatedAt = s.rec.Clock()
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, action, "card", strconv.FormatInt(card.ID, 10), map[string]any{"serial": card.Serial, "puk_state": string(next.PUKState)})
	}, func(tx lanyard.Tx) error {
		if err := lockUnchanged(tx, card, was, "meanwhile"); err != nil {
			return err
		}
		return tx.UpdateCard(&next)
	})
	if err == nil {
		*card = next
	}
	return err
}

// arrivalSession opens the card with serial just connected in reader of
// workstation wsID, for an automatic change of its PUK, and returns the
// card type's PUK (its default, else the factory one). Nothing is done
// while an issue of the card is under way (it sets the PUK itself). It
// reads card again inside the exclusive session (want must still hold)
// and checks the card is the one recorded (cardProven). A nil card and no
// error: nothing to do (no card access, an issue under way, the card
// changed meanwhile, or it cannot prove it is the card).
func (s *Cards) arrivalSession(ctx context.Context, wsID int64, reader, serial string, ct *lanyard.CardType, card *lanyard.Card, want func(*lanyard.Card) bool) (*piv.Card, lanyard.CardSession, string, error) {
	if op, err := s.unfinishedIssue(ctx, card.ID); err != nil || op != nil {
		return nil, nil, "", err
	}
	secrets, err := s.catalog.CardTypeSecrets(ct)
	if err != nil {
		return nil, nil, "", err
	}
	cc, err := s.openArrived(ctx, wsID, reader, serial)
	if cc == nil || err != nil {
		return nil, nil, "", err
	}
	pc, sess, id := cc.pc, cc.sess, cc.id
	// Read again inside the exclusive session, and check it is the card.
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		cur, err := tx.CardByID(card.ID)
		if err == nil {
			*card = *cur
		}
		return err
	})
	ok := err == nil && want(card)
	if ok {
		ok, err = s.cardProven(ctx, pc, wsID, ct, card, id)
	}
	if !ok || err != nil {
		sess.Close()
		return nil, nil, "", err
	}
	return pc, sess, personalize.TypePUK(secrets), nil
}
