package monitor

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// counts are the cards by content status as of this replica's last
// RunOnce, for /metrics: a scrape reads them from memory and never the
// database, so that an unauthenticated /metrics cannot make the server
// count every card at the scraper's pace. They are refreshed once per
// run, also by a replica whose run was skipped because another holds the
// job (it reads the records that run wrote), so every replica reports
// them at most one interval late.
type counts struct {
	mu sync.Mutex
	by map[lanyard.ContentStatus]int
	at time.Time
}

// ContentStatusCounts returns the counts of cards by content status as of
// the last run and when they were read; ok is false before the first
// run.
func (m *Monitor) ContentStatusCounts() (by map[lanyard.ContentStatus]int, at time.Time, ok bool) {
	m.counts.mu.Lock()
	defer m.counts.mu.Unlock()
	if m.counts.by == nil {
		return nil, time.Time{}, false
	}
	return maps.Clone(m.counts.by), m.counts.at, true
}

// refreshCounts reads the counts after a run (one grouped count); a
// failure keeps the previous ones and is logged.
func (m *Monitor) refreshCounts(ctx context.Context) {
	var by map[lanyard.ContentStatus]int
	err := m.rec.Store.View(ctx, func(tx lanyard.Tx) (err error) { by, err = tx.CountCardContents(); return err })
	if err != nil {
		m.log.Warn("card monitor: counting the cards by content status failed", "err", err)
		return
	}
	if by == nil {
		by = map[lanyard.ContentStatus]int{}
	}
	m.counts.mu.Lock()
	defer m.counts.mu.Unlock()
	m.counts.by, m.counts.at = by, m.rec.Clock()
}
