// Package monitor is the Card Monitor (docs/lifecycle.md, "Card Monitor";
// issue 17, item 2): a scheduled job that keeps each card's content status
// (lanyard.ContentStatus) from its certificates' expiry and the owner's
// policy's warning period, and tells the owner (their manager in copy per
// the policy) and the operators when a card becomes expiring or expired,
// again every re-send period until it is updated.
//
// A run is incremental. Each card's record says when its status can next
// change without anything being written (a certificate entering the
// warning period or expiring, or a notice falling due again); a run looks
// at the cards whose time has come and at the cards changed since the
// last run (the card, or a certificate on it, updated), never at the
// others. Only the first run, and a run after any policy changed, look at
// every card. Runs are coordinated across replicas by the job's lease
// row (internal/jobs, JobName): one replica runs at a time, and the
// periodic run (Run) once per Interval across the replicas.
package monitor

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// JobName is the Card Monitor's row in the jobs' coordination table.
const JobName = "card_monitor"

// Defaults.
const (
	DefaultInterval = time.Hour
	DefaultBatch    = 500
	// DefaultLease bounds how long a replica that stopped mid-run keeps
	// the others from running; a live run renews it every batch.
	DefaultLease = 10 * time.Minute
	// DefaultOverlap is how far before the last run's start a run looks
	// for changes: a change committed just after that start by a
	// transaction that read its clock just before it is still seen.
	DefaultOverlap = 5 * time.Minute
)

// Notice is one notification the Card Monitor queues.
type Notice struct {
	// Kind: "expiring" or "expired" (to the owner and manager), or
	// "operators" (the run's digest to the operators).
	Kind   string
	User   *lanyard.User
	Card   *lanyard.Card
	Status lanyard.ContentStatus
	// Expires is when the certificate that set the status expires
	// (expired: expired).
	Expires time.Time
	// Summary is the operators' digest: one line per card.
	Summary string
}

// Notifier queues the Card Monitor's notices in the caller's transaction
// (internal/notify's Mailer). EUnavailable when notifications are off.
type Notifier interface {
	QueueCardContent(tx lanyard.Tx, to []string, n Notice) (int64, error)
	Wake()
}

// Config holds the monitor's dependencies; Store and Now are required.
type Config struct {
	Store    lanyard.Store
	Now      func() time.Time
	Log      *slog.Logger
	Notifier Notifier // nil: nothing is sent
	Interval time.Duration
	Batch    int
	Lease    time.Duration
	Overlap  time.Duration
	// Holder names this replica in the lease row (default:
	// jobs.HolderName()).
	Holder string
}

// Monitor is the Card Monitor.
type Monitor struct {
	cfg    Config
	rec    lanyard.Recorder
	log    *slog.Logger
	jobs   *jobs.Runner
	counts counts
}

// New returns a Monitor.
func New(cfg Config) (*Monitor, error) {
	if cfg.Store == nil || cfg.Now == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "monitor: Store and Now are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	runner, err := jobs.New(jobs.Config{Store: cfg.Store, Now: cfg.Now, Log: log, Holder: cfg.Holder, Lease: cfg.Lease})
	if err != nil {
		return nil, err
	}
	return &Monitor{cfg: cfg, rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, log: log, jobs: runner}, nil
}

// Run runs the monitor once per Interval across the replicas until ctx
// ends (lanyard serve): it looks every jobs.Poll(Interval) whether the
// last completed run, on any replica, is an Interval old.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(jobs.Poll(m.cfg.Interval))
	defer t.Stop()
	for {
		if _, err := m.run(ctx, m.cfg.Interval); err != nil && ctx.Err() == nil {
			m.log.Error("card monitor run failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Result is what one run did.
type Result struct {
	// Skipped: another replica holds the job; nothing was done.
	Skipped bool
	// Full: every card was looked at (first run, or policies changed).
	Full bool
	// Looked is how many cards were looked at, Changed how many records
	// were written, Notified how many owner notices were queued.
	Looked, Changed, Notified int
	// Entered counts the cards that entered each status in this run.
	Entered map[lanyard.ContentStatus]int
}

// RunOnce runs the monitor once, unless another replica is running it.
func (m *Monitor) RunOnce(ctx context.Context) (*Result, error) {
	return m.run(ctx, 0)
}

// run runs the monitor once if no other replica is running it and (with
// a period) the last completed run is at least period old; Skipped
// otherwise. A failed run gives its lease up without recording a run.
func (m *Monitor) run(ctx context.Context, period time.Duration) (*Result, error) {
	start := m.rec.Clock()
	lease, err := m.jobs.Claim(ctx, JobName, period)
	if lanyard.IsCode(err, lanyard.EConflict) {
		m.refreshCounts(ctx)
		return &Result{Skipped: true}, nil
	}
	if err != nil {
		return nil, err
	}
	r := &run{m: m, lease: lease, now: start, res: &Result{Entered: map[lanyard.ContentStatus]int{}}, seen: map[int64]bool{}, users: map[int64]*lanyard.User{}}
	if err := r.all(ctx); err != nil {
		lease.Release()
		return nil, err
	}
	if r.queued > 0 && m.cfg.Notifier != nil {
		m.cfg.Notifier.Wake()
	}
	m.refreshCounts(ctx)
	return r.res, nil
}

// all is one run under r.lease: the cards due and the cards changed
// since the last run (every card on the first run and after the
// policies changed), then the run's record.
func (r *run) all(ctx context.Context) error {
	if err := r.m.rec.Store.View(ctx, r.load); err != nil {
		return err
	}
	job := r.lease.Job
	since := job.Mark.Add(-r.m.cfg.Overlap)
	if job.Mark.IsZero() || job.Extra != r.version {
		since, r.res.Full = time.Time{}, true
	} else if err := r.due(ctx); err != nil {
		return err
	}
	if err := r.changed(ctx, since); err != nil {
		return err
	}
	return r.finish(ctx, r.now)
}

// policiesVersion names the policies' state: a run after it changed
// looks at every card, as any warning period may have changed.
func policiesVersion(ps []*lanyard.Policy) string {
	var latest int64
	for _, p := range ps {
		latest = max(latest, p.UpdatedAt.UnixMicro())
	}
	return strconv.Itoa(len(ps)) + "/" + strconv.FormatInt(latest, 10)
}

// warning returns the notification settings that apply to u's cards.
func (r *run) settings(u *lanyard.User) (lanyard.NotificationsSettings, *lanyard.Policy) {
	if p, ok := policy.Effective(u, r.policies); ok {
		return p.Settings.Notifications, p
	}
	return lanyard.NotificationsSettings{}, nil
}
