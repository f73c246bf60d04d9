package service

import (
	"context"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's PUK (PIV Admin PIN) is not always the one its record names: an
// issue or a rotation interrupted with the card's reply lost leaves the
// card holding either the PUK it had or the new one drawn (sealed in the
// operation or the card record). Every action that needs the card's
// current PUK tries the PUKs it may hold, the most likely first, through
// usePUK: a wrong one costs a try (SP 800-73-4 part 2, 3.2.2 and 3.2.3:
// the retry counter drops and 63CX says how many are left), so a
// candidate is tried only while at least two tries remain and the last
// one is never spent guessing.

// pukCandidate is a PUK the card may hold. sealed is set for a random PUK
// the server holds sealed (CardPUKAAD): the card can be recorded as
// holding it.
type pukCandidate struct {
	puk    string
	sealed []byte
}

// pukCandidates returns the PUKs card may hold, in the order to try them:
// its own sealed PUK (state random), else named, the one its record
// names (entered, the card type's default); then a rotation's pending PUK
// (Card.SealedPUK while the state is still default), then extra (an
// unfinished issue's new PUK). Duplicates are left out.
func (s *Service) pukCandidates(card *lanyard.Card, named string, extra ...pukCandidate) ([]pukCandidate, error) {
	var out []pukCandidate
	add := func(c pukCandidate) {
		if c.puk == "" {
			return
		}
		for _, o := range out {
			if o.puk == c.puk {
				return
			}
		}
		out = append(out, c)
	}
	if card.PUKState == lanyard.PUKRandom {
		own, err := s.cardPUK(card)
		if err != nil {
			return nil, err
		}
		add(pukCandidate{puk: own, sealed: card.SealedPUK})
	} else {
		add(pukCandidate{puk: named})
	}
	if card.PUKState == lanyard.PUKDefault && len(card.SealedPUK) > 0 {
		if pending, err := s.openPUK(card.ID, card.SealedPUK); err == nil {
			add(pukCandidate{puk: pending, sealed: card.SealedPUK})
		}
	}
	for _, c := range extra {
		add(c)
	}
	return out, nil
}

// typePUK is the card type's default PUK, else the factory value.
func typePUK(secrets *lanyard.CardTypeSecrets) string {
	if secrets.PUK != "" {
		return secrets.PUK
	}
	return pivspec.DefaultPUK
}

// sealedCandidate opens a sealed PUK of card for pukCandidates; nil
// sealed (or one that does not open) gives an empty candidate, skipped.
func (s *Service) sealedCandidate(cardID int64, sealed []byte) pukCandidate {
	if len(sealed) == 0 {
		return pukCandidate{}
	}
	puk, err := s.openPUK(cardID, sealed)
	if err != nil {
		return pukCandidate{}
	}
	return pukCandidate{puk: puk, sealed: sealed}
}

// errWrongPUK is usePUK's error when the card refused every candidate
// tried (or refused to be guessed at): the server does not know its PUK.
var errWrongPUK = errors.New("the card refused every Admin PIN (PUK) the server knows for it")

// usePUK runs use with each candidate until the card accepts one, which it
// returns. A candidate is tried only while the card has at least two PUK
// tries left: known before the first try from GET METADATA (vendor
// instruction F7, key reference 81) where the card has it, else from the
// 63CX of the refusal before. The one exception is the first candidate on
// a card whose counter is full: a card type allowing a single PUK try
// (puk_retries 1) is still issued and cleared with the PUK the server
// knows best, and a card that never refused one is not being guessed at. all asks for every try left before the
// first one (an automatic change the user did not ask for must not spend
// a try another tool's failures left short). A failure other than a wrong
// PUK (the card pulled) is returned as it is; refusals end in an error
// wrapping errWrongPUK and the card's last answer.
func usePUK(ctx context.Context, pc *piv.Card, candidates []pukCandidate, all bool, what string, use func(puk string) error) (pukCandidate, error) {
	left, full := -1, false // unknown
	md, err := pc.Metadata(ctx, pivspec.KeyPUK)
	var se *apdu.StatusError
	switch {
	case err == nil && md.Retries > 0:
		if all && md.RetriesLeft < md.Retries {
			return pukCandidate{}, lanyard.Errorf(lanyard.EConflict, "%s: the card has %d of its %d Admin PIN (PUK) tries left; Lanyard does not guess at it", what, md.RetriesLeft, md.Retries)
		}
		left, full = md.RetriesLeft, md.RetriesLeft == md.Retries
	case err != nil && !errors.As(err, &se):
		// The card did not answer (pulled); one that refuses the
		// instruction, whatever its status word, is a card without it.
		return pukCandidate{}, personalize.CardError(err, what)
	}
	var last error
	for i, c := range candidates {
		if left >= 0 && left < 2 && !(i == 0 && full && left > 0) {
			break
		}
		err := use(c.puk)
		if err == nil {
			return c, nil
		}
		var ae *piv.AuthError
		if !errors.As(err, &ae) {
			return pukCandidate{}, personalize.CardError(err, what)
		}
		last, left = err, ae.Retries
		if left < 0 {
			left = 0 // the card did not say (6300): guess no more
		}
	}
	if last == nil {
		// Nothing was tried: the server's candidates may be right, so this
		// is no errWrongPUK (which records the PUK as unknown).
		return pukCandidate{}, lanyard.Errorf(lanyard.EConflict, "%s: the card has fewer than two Admin PIN (PUK) tries left; Lanyard does not guess at it", what)
	}
	return pukCandidate{}, lanyard.Wrap(lanyard.EConflict, errors.Join(errWrongPUK, last), what+": the card refused its Admin PIN (PUK)")
}
