// Package jobs runs cluster-wide jobs once across the replicas that share
// one database (docs/architecture.md, "Cluster-wide jobs"): each job has a
// lease row in job_runs (lanyard.CardContentStore.ClaimJob, RenewJob,
// FinishJob)
// that one replica at a time holds. A job that runs every period is
// started by whichever replica first finds its last completed run a
// period old; the others find the lease held, or the job not yet due,
// and do nothing. A replica that dies mid-job leaves its lease to run
// out, after which another takes the job over (its last run was not
// recorded, so it is still due).
//
// Every claim writes its own holder name (the process's name plus a
// random suffix), so the lease is a fencing token: a run that lost its
// lease — it ran out and another claim took it — can neither renew it
// nor record its run, even from the same process.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"os"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DefaultLease bounds how long a replica that stopped mid-job keeps the
// others from running it; a live run renews its lease (Lease.Keep, or
// Lease.Renew in its own transactions) well before it ends.
const DefaultLease = 2 * time.Minute

// Config holds a Runner's dependencies; Store and Now are required.
type Config struct {
	Store lanyard.Store
	Now   func() time.Time
	Log   *slog.Logger
	// Holder names this process in the lease rows (default HolderName()).
	Holder string
	// Lease is how long a claim lasts unless renewed (default
	// DefaultLease).
	Lease time.Duration
	// ClockSkew is how far apart the replicas' clocks may be (default
	// DefaultClockSkew; at most a sixth of Lease counts): a job stops
	// this much earlier than its lease's end (Keep).
	ClockSkew time.Duration
}

// Runner claims jobs' leases for one process.
type Runner struct {
	cfg Config
	rec lanyard.Recorder
	log *slog.Logger
}

// New returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Now == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "jobs: Store and Now are required")
	}
	if cfg.Holder == "" {
		cfg.Holder = HolderName()
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{cfg: cfg, rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, log: log}, nil
}

// HolderName names this process among the replicas: host, process ID
// and a random suffix (two processes of one host may share a PID across
// containers).
func HolderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), randomHex(4))
}

// ReplicaHolder is HolderName with the replica's ID (random per process
// start, internal/cluster) for its random part, so that the operators'
// view of the cluster names the replica holding each lease
// (cluster.HolderReplica).
func ReplicaHolder(replicaID string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), replicaID)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Holder is the process's name in the lease rows (each claim adds its
// own suffix).
func (r *Runner) Holder() string { return r.cfg.Holder }

// LeaseDuration is how long a claim lasts unless renewed.
func (r *Runner) LeaseDuration() time.Duration { return r.cfg.Lease }

// errNotDue rolls back a claim of a job whose last run is too recent.
var errNotDue = lanyard.Errorf(lanyard.EConflict, "the job is not due")

// Claim takes job name's lease when nobody else holds it and, with a
// period, its last completed run ended at least period ago (period 0:
// whenever it is free). EConflict when the job runs elsewhere or is not
// due: the caller does nothing. The Lease's Job is the row as claimed:
// what the last completed run recorded (Mark, Extra, RunAt).
func (r *Runner) Claim(ctx context.Context, name string, period time.Duration) (*Lease, error) {
	l := &Lease{r: r, holder: r.cfg.Holder + "#" + randomHex(4), since: time.Now()}
	now := r.rec.Clock()
	err := r.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		job, err := tx.ClaimJob(name, l.holder, now, now.Add(r.cfg.Lease))
		if err != nil {
			return err
		}
		if period > 0 && !job.RunAt.IsZero() && now.Sub(job.RunAt) < period {
			return errNotDue // rolled back: the row stays as it was
		}
		l.Job = *job
		return nil
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// Acquire waits until it holds job name's lease (Claim, period 0),
// looking again every 50 to 150 ms, and returns it: a lock across the
// replicas for work that must not run twice at once. A holder that died
// keeps it only until its lease runs out. The caller keeps it (Keep)
// while it works and Releases it after.
func (r *Runner) Acquire(ctx context.Context, name string) (*Lease, error) {
	for {
		l, err := r.Claim(ctx, name, 0)
		if !lanyard.IsCode(err, lanyard.EConflict) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, lanyard.Wrap(lanyard.EUnavailable, ctx.Err(), "waiting for "+name+" held by another replica")
		case <-time.After(50*time.Millisecond + mathrand.N(100*time.Millisecond)):
		}
	}
}

// Lease is one claim of a job.
type Lease struct {
	r      *Runner
	holder string
	since  time.Time // local time before the claim was written (Keep)
	// Job is the job's row as claimed.
	Job lanyard.JobRun
}

// Holder is this claim's name in the lease row.
func (l *Lease) Holder() string { return l.holder }

// Renew extends the lease from now, in the caller's transaction (a job
// that works in batches renews it in each, so the batch commits only
// while the lease is held). EConflict when the lease was lost.
func (l *Lease) Renew(tx lanyard.Tx) error {
	err := tx.RenewJob(l.Job.Name, l.holder, l.r.rec.Clock().Add(l.r.cfg.Lease))
	if lanyard.IsCode(err, lanyard.EConflict) {
		return lanyard.Errorf(lanyard.EConflict, "job %s: the lease was lost (another replica took the job over)", l.Job.Name)
	}
	return err
}

// Finish records the completed run in tx (its Mark and Extra for the
// next run; RunAt: now) and releases the lease. EConflict when the lease
// was lost: tx must then roll back.
func (l *Lease) Finish(tx lanyard.Tx, mark time.Time, extra string) error {
	return tx.FinishJob(&lanyard.JobRun{Name: l.Job.Name, Holder: l.holder, Mark: mark, Extra: extra, RunAt: l.r.rec.Clock()})
}

// Release gives the lease up without recording a run (the job failed or
// found nothing to do): the row keeps the last completed run's Mark,
// Extra and RunAt, so the job is still due for the next claim.
func (l *Lease) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := l.r.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		return tx.FinishJob(&lanyard.JobRun{Name: l.Job.Name, Holder: l.holder, Mark: l.Job.Mark, Extra: l.Job.Extra, RunAt: l.Job.RunAt})
	})
	if err != nil && !lanyard.IsCode(err, lanyard.EConflict) {
		l.r.log.Warn("releasing a job's lease failed; it runs out instead", "job", l.Job.Name, "err", err)
	}
}

// Keep renews the lease every third of its duration until stop is
// called (Hold). The returned context ends when ctx does, when the lease
// is lost (a renewal found another holder), and a third of the lease plus
// the clock skew before the lease as last renewed runs out (a renewal
// failing or hanging), so a job never runs on past its lease while
// another replica takes it over.
func (l *Lease) Keep(ctx context.Context) (context.Context, func()) {
	return Hold(ctx, l.since, l.r.cfg.Lease, l.r.cfg.ClockSkew, func(ctx context.Context) error {
		err := l.r.rec.Store.Update(ctx, l.Renew)
		switch {
		case lanyard.IsCode(err, lanyard.EConflict):
			l.r.log.Error("a job lost its lease; stopping it", "job", l.Job.Name)
		case err != nil:
			l.r.log.Warn("renewing a job's lease failed", "job", l.Job.Name, "err", err)
		}
		return err
	})
}

// RunOnce runs fn under job name's lease if the job is due (see Claim),
// renewing the lease while fn runs, and records the run when fn
// succeeds. ran is false when the job runs elsewhere or is not due. A
// failed fn releases the lease without recording a run, so the job is
// tried again at the next look (here or on another replica).
func (r *Runner) RunOnce(ctx context.Context, name string, period time.Duration, fn func(context.Context) error) (ran bool, err error) {
	l, err := r.Claim(ctx, name, period)
	if lanyard.IsCode(err, lanyard.EConflict) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	kctx, stop := l.Keep(ctx)
	err = fn(kctx)
	lost := context.Cause(kctx)
	stop()
	if err != nil {
		l.Release()
		return true, err
	}
	if lost != nil && ctx.Err() == nil {
		return true, lost
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return true, r.rec.Store.Update(wctx, func(tx lanyard.Tx) error { return l.Finish(tx, time.Time{}, "") })
}

// Every runs fn as job name once per period across the replicas until
// ctx ends: it looks whether the job is due at start and then every
// Poll(period), and runs it here when it is (RunOnce). Failures are
// logged; a failed run is tried again at the next look.
func (r *Runner) Every(ctx context.Context, name string, period time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(Poll(period))
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx, name, period, fn); err != nil && ctx.Err() == nil {
			r.log.Error("job failed", "job", name, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll is how often Every looks whether a job of period is due: a tenth
// of the period, between one second and one minute, so a job runs at
// most that much later than its period after the last run's end.
func Poll(period time.Duration) time.Duration {
	return min(max(period/10, time.Second), time.Minute)
}
