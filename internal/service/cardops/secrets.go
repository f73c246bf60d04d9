package cardops

import (
	"context"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// A card's secrets and identity (docs/security.md, "Cards": no card keeps
// a default or shared secret after issue). The management key is
// derived from the store's identifier of the card (personalize.Identity),
// and used only on a card that presents the serial and CHUID GUID its
// record holds (personalize.CheckIdentity, personalize.KeyIdent). The PUK
// is the card's own, random, sealed here.

// identityFree fails when another card than card holds id's management
// key identifier or CHUID GUID: a card presenting a copied CHUID is
// refused, whatever its serial.
func identityFree(tx lanyard.Tx, card *lanyard.Card, id personalize.Identity) error {
	others, err := tx.CardsByIdentity(hex.EncodeToString(id.KeyIdent()), id.GUID)
	if err != nil {
		return err
	}
	for _, o := range others {
		if o.ID != card.ID {
			return lanyard.Errorf(lanyard.EConflict, "the card presents the identity (CHUID GUID or serial) of card %s, which is another card; it is refused", o.Serial)
		}
	}
	return nil
}

// reidentify reads the card's identity again after RESET (which writes a
// new CHUID) and records it with the card, which must keep its serial.
func (s *Cards) reidentify(ctx context.Context, j *issueJob) error {
	id, err := personalize.Identify(ctx, j.pc)
	if err != nil {
		return err
	}
	if id.Serial != j.card.Serial {
		return lanyard.Errorf(lanyard.EConflict, "card %s reports serial %s after initialization; register it again", j.card.Serial, id.Serial)
	}
	j.id, j.card.GUID = id, id.GUID
	return nil
}

// CardPUKAAD is the additional data that binds a card's sealed PUK
// (Card.SealedPUK) to the card: a sealed PUK copied to another card's
// record does not open.
func CardPUKAAD(cardID int64) []byte {
	return []byte("lanyard card puk " + strconv.FormatInt(cardID, 10))
}

// cardPUK returns the card's own PUK, or "" when the server does not hold
// one (PUKState other than random).
func (s *Cards) cardPUK(c *lanyard.Card) (string, error) {
	if c.PUKState != lanyard.PUKRandom || len(c.SealedPUK) == 0 {
		return "", nil
	}
	return s.openPUK(c.ID, c.SealedPUK)
}

func (s *Cards) openPUK(cardID int64, sealed []byte) (string, error) {
	pt, err := s.sealer.Open(sealed, CardPUKAAD(cardID))
	if err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "the card's sealed PUK does not open")
	}
	return string(pt), nil
}

// randomPUK is an 8-character PUK (the PIV maximum, SP 800-73-4 part 2,
// 2.4.3) of digits and letters, drawn for one card and returned sealed.
// Nobody enters it: the server uses it for PIN resets and unblocks.
func (s *Cards) randomPUK(cardID int64) ([]byte, error) {
	puk, err := policy.RandomPIN(lanyard.RandomPINSettings{Length: 8, MailTo: lanyard.PINMailNobody,
		Groups: []lanyard.PINCharGroup{lanyard.PINDigits, lanyard.PINLower, lanyard.PINUpper}}, s.rand)
	if err != nil {
		return nil, err
	}
	sealed, err := s.sealer.Seal([]byte(puk), CardPUKAAD(cardID))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "sealing the card's PUK")
	}
	return sealed, nil
}

// currentPUK is the PUK the card holds before the issue gives it its own:
// the factory PUK after this issue's initialization, the card's sealed
// PUK, the Admin PIN entered in the dialog, else fallback (the card
// type's default, else the factory value).
func (s *Cards) currentPUK(j *issueJob, fallback string) (string, error) {
	switch {
	case j.data.Initialized:
		return pivspec.DefaultPUK, nil
	case j.card.PUKState == lanyard.PUKRandom:
		return s.cardPUK(j.card)
	case j.plan != nil && j.plan.AdminPIN != "":
		return j.plan.AdminPIN, nil
	case j.card.PUKState == lanyard.PUKUnknown:
		return "", lanyard.Errorf(lanyard.EInvalid, "enter the card's current Admin PIN (the one chosen when it was issued before): Lanyard replaces it with the card's own")
	}
	return fallback, nil
}

// setCardPUK gives the card its own random PUK. The PUK is drawn and
// recorded sealed in the operation before it is sent, so that a run
// resumed after the change reached the card with its reply lost still
// knows it (one more try with it shows; personalize.UsePUK tries only while two tries
// are left, and a success restores the tries); the card record takes it in
// the step that follows the change. fallback is the card type's default
// PUK.
func (s *Cards) setCardPUK(ctx context.Context, j *issueJob, fallback string) error {
	d := &j.data
	resumed := len(d.NewPUK) > 0
	if !resumed {
		sealed, err := s.randomPUK(j.card.ID)
		if err != nil {
			return err
		}
		d.NewPUK = sealed
		if err := j.run.Step(ctx, operation.PUKDrawn); err != nil {
			d.NewPUK = nil
			return err
		}
	}
	want, err := s.openPUK(j.card.ID, d.NewPUK)
	if err != nil {
		return err
	}
	cur, err := s.currentPUK(j, fallback)
	if err != nil {
		return err
	}
	// The PUK the card had, a replacement of the shared PUK at the card's
	// connection (RotateSharedPUK) interrupted with its reply lost, and a
	// resumed run's own change (to itself, which restores the tries).
	var mine personalize.PUKCandidate
	if resumed {
		mine = personalize.PUKCandidate{PUK: want, Sealed: d.NewPUK}
	}
	candidates, err := s.pukCandidates(j.card, cur, mine)
	if err != nil {
		return err
	}
	if _, err := personalize.UsePUK(ctx, j.pc, candidates, false, "giving the card its own Admin PIN (PUK) failed", func(old string) error {
		return j.pc.ChangePUK(ctx, old, want)
	}); err != nil {
		return err
	}
	was := *j.card
	sealed := d.NewPUK
	d.PUKSet, d.NewPUK = true, nil
	// A new PUK: an earlier offline release (and its escrow) is over.
	j.card.SealedPUK, j.card.PUKState, j.card.PUKReleasedAt = sealed, lanyard.PUKRandom, time.Time{}
	if err := j.run.Step(ctx, operation.PUK, operation.WithCard()); err != nil {
		d.PUKSet, d.NewPUK, *j.card = false, sealed, was
		return err
	}
	return nil
}
