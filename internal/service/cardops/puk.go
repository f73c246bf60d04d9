package cardops

import (
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's PUK (PIV Admin PIN) is not always the one its record names: an
// issue or a rotation interrupted with the card's reply lost leaves the
// card holding either the PUK it had or the new one drawn (sealed in the
// operation or the card record). Every action that needs the card's
// current PUK lists the PUKs it may hold, the most likely first, and tries
// them through personalize.UsePUK, which spends no try the card cannot
// spare. The candidates are listed here because the server holds them
// sealed.

// pukCandidates returns the PUKs card may hold, in the order to try them:
// its own sealed PUK (state random), else named, the one its record
// names (entered, the card type's default); then a rotation's pending PUK
// (Card.SealedPUK while the state is still default), then extra (an
// unfinished issue's new PUK). Duplicates are left out.
func (s *Cards) pukCandidates(card *lanyard.Card, named string, extra ...personalize.PUKCandidate) ([]personalize.PUKCandidate, error) {
	var out []personalize.PUKCandidate
	add := func(c personalize.PUKCandidate) {
		if c.PUK == "" {
			return
		}
		for _, o := range out {
			if o.PUK == c.PUK {
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
		add(personalize.PUKCandidate{PUK: own, Sealed: card.SealedPUK})
	} else {
		add(personalize.PUKCandidate{PUK: named})
	}
	if card.PUKState == lanyard.PUKDefault && len(card.SealedPUK) > 0 {
		if pending, err := s.openPUK(card.ID, card.SealedPUK); err == nil {
			add(personalize.PUKCandidate{PUK: pending, Sealed: card.SealedPUK})
		}
	}
	for _, c := range extra {
		add(c)
	}
	return out, nil
}

// sealedCandidate opens a sealed PUK of card for pukCandidates; nil
// sealed (or one that does not open) gives an empty candidate, skipped.
func (s *Cards) sealedCandidate(cardID int64, sealed []byte) personalize.PUKCandidate {
	if len(sealed) == 0 {
		return personalize.PUKCandidate{}
	}
	puk, err := s.openPUK(cardID, sealed)
	if err != nil {
		return personalize.PUKCandidate{}
	}
	return personalize.PUKCandidate{PUK: puk, Sealed: sealed}
}
