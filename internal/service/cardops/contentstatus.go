package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// contentStatus is card c's content status as the Card Monitor last
// recorded it (internal/service/monitor); a revoked card's is none.
func contentStatus(tx lanyard.Tx, c *lanyard.Card) (lanyard.ContentStatus, error) {
	if c.State == lanyard.CardRevoked {
		return lanyard.ContentNone, nil
	}
	rs, err := tx.CardContents([]int64{c.ID})
	if err != nil {
		return "", err
	}
	if r := rs[c.ID]; r != nil {
		return r.Status, nil
	}
	return lanyard.ContentNone, nil
}

// ContentStatusCounts counts the cards by content status, in the order
// of lanyard.ContentStatuses (the console's dashboard, /metrics). Staff
// and auditors only: it counts every user's cards.
func (s *Cards) ContentStatusCounts(ctx context.Context, p *lanyard.Principal) (map[lanyard.ContentStatus]int, error) {
	if p != nil && !p.IsStaff() && !p.Has(lanyard.RoleAuditor) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only staff see the counts of every card")
	}
	var out map[lanyard.ContentStatus]int
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		out, err = tx.CountCardContents()
		return err
	})
	return out, err
}
