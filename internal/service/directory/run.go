package directory

import (
	"context"
	"errors"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Run syncs the enabled sources that are due every minute until ctx
// ends (lanyard serve; RunDue).
func (d *Directory) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, err := d.RunDue(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("directory sync failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunDue syncs each enabled source whose interval (its own, else
// Config.Interval) has passed since its last completed sync, as the
// system. A source another replica is syncing is skipped (its lease);
// a failed sync is logged and the others still run. It returns the
// reports of the syncs that ran.
func (d *Directory) RunDue(ctx context.Context) ([]*Report, error) {
	var list []*lanyard.DirectorySource
	if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.ListDirectorySources(); return }); err != nil {
		return nil, err
	}
	var out []*Report
	for _, src := range list {
		if !d.due(src) {
			continue
		}
		rep, err := d.sync(ctx, lanyard.SystemPrincipal, src.ID, false, d.due)
		switch {
		case errors.Is(err, errBusy):
			continue // another replica syncs it, or just did
		case err != nil:
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			d.log.Error("directory sync failed", "source", src.Name, "err", err)
			continue
		}
		out = append(out, rep)
	}
	return out, nil
}

// due reports whether src is enabled and its interval (its own, else
// Config.Interval) has passed since its last completed sync.
func (d *Directory) due(src *lanyard.DirectorySource) bool {
	every := src.SyncInterval
	if every <= 0 {
		every = d.cfg.Interval
	}
	return src.Enabled && (src.LastSyncAt.IsZero() || !d.rec.Clock().Before(src.LastSyncAt.Add(every)))
}
