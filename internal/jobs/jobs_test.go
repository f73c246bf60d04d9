package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// opener opens one more store on the test's database: a replica of its
// own (PostgreSQL: its own pool on one schema; SQLite: the same store,
// the engine has one writer).
type opener func(t *testing.T) lanyard.Store

func sqliteOpener(t *testing.T) opener {
	st, err := sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return func(*testing.T) lanyard.Store { return st }
}

func TestJobsSQLite(t *testing.T) { runJobTests(t, sqliteOpener) }

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func runner(t *testing.T, st lanyard.Store, now func() time.Time, holder string, lease time.Duration) *jobs.Runner {
	t.Helper()
	r, err := jobs.New(jobs.Config{Store: st, Now: now, Holder: holder, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func runJobTests(t *testing.T, open func(*testing.T) opener) {
	t.Run("OncePerPeriod", func(t *testing.T) { testOncePerPeriod(t, open(t)) })
	t.Run("Takeover", func(t *testing.T) { testTakeover(t, open(t)) })
	t.Run("KeepRenews", func(t *testing.T) { testKeepRenews(t, open(t)) })
	t.Run("FailedRunStaysDue", func(t *testing.T) { testFailedRunStaysDue(t, open(t)) })
	t.Run("HangingRenewalStops", func(t *testing.T) { testHangingRenewalStops(t, open(t)) })
}

// testOncePerPeriod: two replicas' runners race for one job, round after
// round, each round one period after the last: the job's body runs
// exactly once per round.
func testOncePerPeriod(t *testing.T, open opener) {
	clock := servicetest.NewClock(t0)
	a := runner(t, open(t), clock.Now, "replica-a", time.Minute)
	b := runner(t, open(t), clock.Now, "replica-b", time.Minute)
	var runs atomic.Int32
	body := func(context.Context) error {
		runs.Add(1)
		time.Sleep(time.Millisecond) // the other replica looks meanwhile
		return nil
	}
	const rounds = 20
	for round := 1; round <= rounds; round++ {
		var wg sync.WaitGroup
		for _, r := range []*jobs.Runner{a, b, a, b} {
			wg.Go(func() {
				if _, err := r.RunOnce(t.Context(), "purge", time.Hour, body); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		if n := runs.Load(); n != int32(round) {
			t.Fatalf("after round %d the job ran %d times", round, n)
		}
		clock.Add(30 * time.Minute) // not due yet
		if ran, err := b.RunOnce(t.Context(), "purge", time.Hour, body); ran || err != nil {
			t.Fatalf("round %d: ran half a period after the last run: %v, %v", round, ran, err)
		}
		clock.Add(30 * time.Minute)
	}
}

// testTakeover: a replica that claimed the job and died holds it only
// until its lease runs out; then another takes it over, and the dead
// claim can neither renew nor record its run.
func testTakeover(t *testing.T, open opener) {
	clock := servicetest.NewClock(t0)
	stA, stB := open(t), open(t)
	a := runner(t, stA, clock.Now, "replica-a", time.Minute)
	b := runner(t, stB, clock.Now, "replica-b", time.Minute)
	dead, err := a.Claim(t.Context(), "crl", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	body := func(context.Context) error { ran++; return nil }
	if ok, err := b.RunOnce(t.Context(), "crl", time.Hour, body); ok || err != nil || ran != 0 {
		t.Fatalf("replica-b during replica-a's lease: ran %v, %v", ok, err)
	}
	if _, err := a.Claim(t.Context(), "crl", time.Hour); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("a second claim of replica-a during its first: %v", err)
	}
	clock.Add(time.Minute + time.Second)
	if ok, err := b.RunOnce(t.Context(), "crl", time.Hour, body); !ok || err != nil || ran != 1 {
		t.Fatalf("replica-b after replica-a's lease ran out: ran %v (%d), %v", ok, ran, err)
	}
	err = stA.Update(t.Context(), dead.Renew)
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("the dead claim renewed its lease: %v", err)
	}
	err = stA.Update(t.Context(), func(tx lanyard.Tx) error { return dead.Finish(tx, t0, "late") })
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("the dead claim recorded its run: %v", err)
	}
	// replica-b's run stands: the job is not due again for a period.
	if ok, err := a.RunOnce(t.Context(), "crl", time.Hour, body); ok || err != nil {
		t.Fatalf("replica-a right after replica-b's run: %v, %v", ok, err)
	}
}

// testKeepRenews: a run longer than its lease keeps the job (RunOnce
// renews the lease while the body runs), so a replica looking meanwhile
// does not start it a second time.
func testKeepRenews(t *testing.T, open opener) {
	// Long enough that a renewal (bounded by a third of it) commits in
	// time on SQLite under the race detector on a loaded machine: at
	// 300 ms, make test once saw every renewal time out and the lease
	// lapse, which is the design's answer to a stuck store, not this
	// test's subject.
	const lease = time.Second
	a := runner(t, open(t), time.Now, "replica-a", lease)
	b := runner(t, open(t), time.Now, "replica-b", lease)
	var runs atomic.Int32
	started := make(chan struct{})
	body := func(ctx context.Context) error {
		if runs.Add(1) == 1 {
			close(started)
		}
		select {
		case <-time.After(4 * lease):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.RunOnce(t.Context(), "audit", time.Hour, body)
		done <- err
	}()
	<-started
	for range 12 {
		if ok, err := b.RunOnce(t.Context(), "audit", time.Hour, body); ok || err != nil {
			t.Fatalf("replica-b started the job during replica-a's run: %v, %v", ok, err)
		}
		time.Sleep(lease / 3)
	}
	if err := <-done; err != nil {
		t.Fatalf("replica-a's run: %v", err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times", n)
	}
}

// testFailedRunStaysDue: a failed run records nothing, so the job is due
// at the next look, on any replica; Every keeps looking.
func testFailedRunStaysDue(t *testing.T, open opener) {
	clock := servicetest.NewClock(t0)
	a := runner(t, open(t), clock.Now, "replica-a", time.Minute)
	b := runner(t, open(t), clock.Now, "replica-b", time.Minute)
	boom := errors.New("boom")
	if ok, err := a.RunOnce(t.Context(), "sweep", time.Hour, func(context.Context) error { return boom }); !ok || !errors.Is(err, boom) {
		t.Fatalf("failing run: %v, %v", ok, err)
	}
	ran := false
	if ok, err := b.RunOnce(t.Context(), "sweep", time.Hour, func(context.Context) error { ran = true; return nil }); !ok || err != nil || !ran {
		t.Fatalf("the run after a failed one: %v, %v", ok, err)
	}
}

// testHangingRenewalStops: a renewal that hangs (here: another
// transaction holds the lease row's lock) does not keep the job running:
// its context ends a third of the lease plus the clock skew before the
// lease as last renewed runs out (jobs.Hold), with cause ErrLeaseEnding.
func testHangingRenewalStops(t *testing.T, open opener) {
	const lease = 600 * time.Millisecond
	st := open(t)
	r := runner(t, st, time.Now, "replica-a", lease)
	claimed := time.Now()
	l, err := r.Claim(t.Context(), "hang", 0)
	if err != nil {
		t.Fatal(err)
	}
	locked, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- st.Update(context.WithoutCancel(t.Context()), func(tx lanyard.Tx) error {
			if err := l.Renew(tx); err != nil { // the row, locked until release
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	select {
	case <-locked:
	case err := <-blocked:
		t.Fatal(err)
	}
	kctx, stop := l.Keep(t.Context())
	select {
	case <-kctx.Done():
	case <-time.After(5 * time.Second):
		close(release)
		stop()
		t.Fatal("the job ran on while its renewal hung")
	}
	ended := time.Since(claimed)
	close(release)
	stop()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	if cause := context.Cause(kctx); !errors.Is(cause, jobs.ErrLeaseEnding) {
		t.Errorf("cause %v, want ErrLeaseEnding", cause)
	}
	if ended >= lease {
		t.Errorf("the job's context ended %v after the claim, not before its %v lease", ended, lease)
	}
}
