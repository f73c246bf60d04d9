package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DefaultClockSkew is how far apart the replicas' clocks may be (keep
// them in step with NTP; docs/architecture.md, "Cluster-wide jobs"): a
// lease's end is written by its holder's clock and compared with the
// clock of every replica that would claim it.
const DefaultClockSkew = 2 * time.Second

// ErrLeaseEnding is the cause of a held context that ended because its
// lease could not be renewed in time: the lease may run out soon, after
// which another replica may take the work over.
var ErrLeaseEnding = errors.New("the lease could not be renewed before it ran out")

// Hold keeps a lease of length lease, written at since (local time,
// taken before the write), for work running in the returned context:
// renew is called every third of the lease, each call bounded by a third
// of the lease, and the context ends
//
//   - when renew answers EConflict (the lease was lost: cause that error),
//   - and in any case margin before the lease, as last renewed, runs out
//     (cause ErrLeaseEnding), margin being a third of the lease plus skew
//     (at most a sixth of the lease): a renewal that hangs — a half-open
//     database connection, a lock — cannot keep the work running past
//     its lease on another replica's clock.
//
// Each successful renewal, its start taken as the new since, pushes that
// end back. stop ends the renewals and the context.
func Hold(ctx context.Context, since time.Time, lease, skew time.Duration, renew func(context.Context) error) (held context.Context, stop func()) {
	margin := lease/3 + min(skew, lease/6)
	hctx, cancel := context.WithCancelCause(ctx)
	ending := time.AfterFunc(time.Until(since.Add(lease-margin)), func() { cancel(ErrLeaseEnding) })
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-hctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			rctx, rcancel := context.WithTimeout(hctx, lease/3)
			err := renew(rctx)
			rcancel()
			switch {
			case err == nil:
				ending.Reset(time.Until(start.Add(lease - margin)))
			case lanyard.IsCode(err, lanyard.EConflict):
				cancel(err)
				return
			}
			// Any other failure: tried again at the next tick, while the
			// timer runs.
		}
	}()
	return hctx, func() {
		close(done)
		<-stopped
		ending.Stop()
		cancel(nil)
	}
}
