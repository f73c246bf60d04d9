package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardPUK opens card id's sealed PUK, for tests that prove the card holds
// it (they never print it).
func (s *Service) CardPUK(ctx context.Context, id int64) (string, error) {
	var c *lanyard.Card
	if err := s.view(ctx, func(tx lanyard.Tx) (err error) { c, err = tx.CardByID(id); return }); err != nil {
		return "", err
	}
	return s.cardPUK(c)
}
