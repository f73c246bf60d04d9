package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardPUK opens card id's sealed PUK, for tests that prove the card holds
// it (they never print it).
func (s *Cards) CardPUK(ctx context.Context, id int64) (string, error) {
	var c *lanyard.Card
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { c, err = tx.CardByID(id); return }); err != nil {
		return "", err
	}
	return s.cardPUK(c)
}

// SealCardPUK seals puk for card id as the server seals a card's PUK, for
// tests that set up a PUK change the server recorded but did not finish.
func (s *Cards) SealCardPUK(id int64, puk string) ([]byte, error) {
	return s.sealer.Seal([]byte(puk), CardPUKAAD(id))
}

// ViewOperation exposes viewOperation to the tests.
var ViewOperation = viewOperation

// AutoUpdateNow runs the automatic update of arrival a's card at once
// (updateauto.go), reporting whether it ran.
func (s *Cards) AutoUpdateNow(ctx context.Context, a lanyard.CardArrival) (bool, error) {
	return s.autoUpdateNow(ctx, a)
}

// RunAutoUpdateDecided runs the automatic update of card cardID for
// arrival a as a worker does once autoUpdateDue decided it (updateauto.go):
// a test changes the records in between, as may happen while the job
// waits in the queue.
func (s *Cards) RunAutoUpdateDecided(ctx context.Context, a lanyard.CardArrival, cardID int64) (*UpdateCardResult, error) {
	return s.runAutoUpdate(ctx, autoUpdateJob{arrival: a, card: cardID})
}
