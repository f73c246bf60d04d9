// Package throttletest is the contract of auth.Throttle, run against
// every place its state can live: this process's memory (internal/auth's
// tests) and each storage engine (internal/store/storetest), so that a
// throttle shared by a cluster's replicas keeps the rules of the one in
// memory.
package throttletest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
)

// Clock is a settable clock; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at T0.
func NewClock() *Clock { return &Clock{t: T0} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// T0 is where every Clock starts.
var T0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// Maker returns a new, empty throttle reading the time from now.
type Maker func(t *testing.T, now func() time.Time, lim auth.Limits) *auth.Throttle

// Options adjust Run.
type Options struct {
	// Rounds is how many rounds each goroutine of the concurrency test
	// makes (default 100); a throttle in a database takes fewer.
	Rounds int
}

// Run runs the contract against throttles from mk.
func Run(t *testing.T, mk Maker, opts Options) {
	if opts.Rounds <= 0 {
		opts.Rounds = 100
	}
	t.Run("Rules", func(t *testing.T) { testRules(t, mk) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, mk, opts.Rounds) })
	t.Run("Begin", func(t *testing.T) { testBegin(t, mk) })
	t.Run("SucceedKeepsTheAddressKey", func(t *testing.T) { testSucceedKeepsAddress(t, mk) })
	t.Run("SucceedKeepsAttemptsInFlight", func(t *testing.T) { testSucceedKeepsInFlight(t, mk) })
	t.Run("ReleasedLeavesNothing", func(t *testing.T) { testReleasedLeavesNothing(t, mk) })
	t.Run("LeaseEnds", func(t *testing.T) { testLeaseEnds(t, mk) })
	t.Run("ExactUnderConcurrency", func(t *testing.T) {
		clock := NewClock()
		lim := auth.DefaultLimits()
		th := mk(t, clock.Now, lim)
		Exact(t, lim, th, th)
	})
}

// step is one call at a time offset from T0. For "allow", ok and retry
// are the expected answer.
type step struct {
	at    time.Duration
	op    string // "fail", "allow", "success"
	key   string
	ok    bool
	retry time.Duration
}

func fail(at time.Duration, key string) step { return step{at: at, op: "fail", key: key} }
func allowed(at time.Duration, key string) step {
	return step{at: at, op: "allow", key: key, ok: true}
}
func locked(at time.Duration, key string, retry time.Duration) step {
	return step{at: at, op: "allow", key: key, retry: retry}
}
func success(at time.Duration, key string) step { return step{at: at, op: "success", key: key} }

// fails records n failures one second apart from at.
func fails(at time.Duration, key string, n int) []step {
	var out []step
	for i := range n {
		out = append(out, fail(at+time.Duration(i)*time.Second, key))
	}
	return out
}

const (
	s = time.Second
	m = time.Minute
)

func testRules(t *testing.T, mk Maker) {
	const k = "login:alice"
	tests := []struct {
		name  string
		steps []step
	}{
		{"four failures are allowed", append(fails(0, k, 4), allowed(4*s, k))},
		{"fifth failure locks for 30s", append(fails(0, k, 5),
			locked(4*s, k, 30*s), locked(33*s, k, s), allowed(34*s, k))},
		{"backoff doubles up to 15 minutes", append(fails(0, k, 5),
			allowed(34*s, k), fail(34*s, k), locked(34*s, k, 60*s), allowed(94*s, k),
			fail(94*s, k), locked(94*s, k, 120*s),
			fail(214*s, k), locked(214*s, k, 240*s),
			fail(454*s, k), locked(454*s, k, 480*s),
			fail(934*s, k), locked(934*s, k, 15*m), // 960 s capped
			fail(1834*s, k), locked(1834*s, k, 15*m), allowed(2734*s, k),
		)},
		{"a failure while locked extends the lock", append(fails(0, k, 5),
			fail(10*s, k), locked(10*s, k, 60*s))},
		{"failures outside the window do not count", []step{
			fail(0, k), fail(4*m, k), fail(8*m, k), fail(12*m, k),
			fail(16*m, k), allowed(16*m, k), // the failure at 0 has left the window
			fail(17*m, k), locked(17*m, k, 30*s),
		}},
		{"a window boundary failure has left", []step{
			fail(0, k), fail(1*m, k), fail(2*m, k), fail(3*m, k),
			fail(15*m, k), allowed(15*m, k),
		}},
		{"quiet for a window after the lock starts afresh", append(fails(0, k, 5),
			allowed(34*s, k), fail(34*s, k), // locked until 94 s, level 2
			fail(94*s+15*m, k), allowed(94*s+15*m, k), // quiet for 15 min after the lock: fresh
			fail(95*s+15*m, k), fail(96*s+15*m, k), fail(97*s+15*m, k), allowed(97*s+15*m, k),
			fail(98*s+15*m, k), locked(98*s+15*m, k, 30*s),
		)},
		{"not quiet long enough keeps backing off", append(fails(0, k, 5),
			allowed(34*s, k), fail(34*s, k), // locked until 94 s
			fail(94*s+14*m, k), locked(94*s+14*m, k, 120*s),
		)},
		{"success forgets the key", append(append(fails(0, k, 4),
			success(4*s, k)), append(fails(5*s, k, 4), allowed(9*s, k))...)},
		{"success unlocks", append(fails(0, k, 5), success(5*s, k), allowed(5*s, k))},
		{"keys are independent", append(fails(0, k, 5),
			locked(5*s, k, 29*s), allowed(5*s, "login:bob"), allowed(5*s, "ip:192.0.2.1"))},
		{"unknown key is allowed", []step{allowed(0, "ip:198.51.100.7")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			c := NewClock()
			th := mk(t, c.Now, auth.DefaultLimits())
			for i, st := range tt.steps {
				c.Set(T0.Add(st.at))
				switch st.op {
				case "fail":
					must(t, th.Failure(ctx, st.key))
				case "success":
					must(t, th.Success(ctx, st.key))
				case "allow":
					ok, retry, err := th.Allow(ctx, st.key)
					must(t, err)
					if ok != st.ok || retry != st.retry {
						t.Fatalf("step %d at %v: Allow(%s) = %v, %v; want %v, %v", i, st.at, st.key, ok, retry, st.ok, st.retry)
					}
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustLen checks how many keys th holds.
func mustLen(t *testing.T, th *auth.Throttle, want int) {
	t.Helper()
	n, err := th.Len(t.Context())
	must(t, err)
	if n != want {
		t.Fatalf("Len = %d, want %d", n, want)
	}
}

func testConcurrent(t *testing.T, mk Maker, rounds int) {
	ctx := t.Context()
	th := mk(t, time.Now, auth.DefaultLimits())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			own := fmt.Sprint("ip:", g)
			for range rounds {
				for _, err := range []error{th.Failure(ctx, "login:shared"), th.Failure(ctx, own), th.Success(ctx, own)} {
					if err != nil {
						t.Error(err)
						return
					}
				}
				if _, _, err := th.Allow(ctx, "login:shared"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ok, _, _ := th.Allow(ctx, "login:shared"); ok {
		t.Fatalf("%d failures did not lock the key", 8*rounds)
	}
	mustLen(t, th, 1)
}

// testBegin: an attempt counts before its check. Of many parallel
// attempts on one key with room for MaxFailures failures, only that many
// are let through; Release gives the room back, Fail keeps it used, and
// Succeed forgets the account's key but not the address's.
func testBegin(t *testing.T, mk Maker) {
	ctx := t.Context()
	lim := auth.DefaultLimits()
	clock := NewClock()
	th := mk(t, clock.Now, lim)
	keys := []string{"login:olga", "ip:192.0.2.1"}

	var mu sync.Mutex
	var granted []*auth.Attempt
	refused := 0
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			a, err := th.Begin(ctx, keys...)
			mu.Lock()
			defer mu.Unlock()
			var te *auth.ThrottledError
			switch {
			case err == nil:
				granted = append(granted, a)
			case errors.As(err, &te) && te.Wait == auth.InflightWait:
				refused++
			default:
				t.Errorf("Begin: %v", err)
			}
		})
	}
	wg.Wait()
	if len(granted) != lim.MaxFailures || refused != 40-lim.MaxFailures {
		t.Fatalf("granted %d, refused %d; want %d granted", len(granted), refused, lim.MaxFailures)
	}
	// Another key is not affected by the first one's attempts.
	other, err := th.Begin(ctx, "login:otto")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	must(t, other.Release())

	must(t, granted[0].Release())
	must(t, granted[0].Fail()) // settled already: no effect
	a, err := th.Begin(ctx, keys...)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	granted[0] = a
	for _, a := range granted {
		must(t, a.Fail())
	}
	_, err = th.Begin(ctx, keys...)
	var te *auth.ThrottledError
	if !errors.As(err, &te) || te.Wait != lim.BaseLock {
		t.Fatalf("after %d failures: %v, want a lock of %v", lim.MaxFailures, err, lim.BaseLock)
	}

	// Once the lock ends, a locked key has room for one attempt at a time.
	clock.Set(T0.Add(lim.BaseLock + time.Second))
	first, err := th.Begin(ctx, keys...)
	if err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if _, err := th.Begin(ctx, keys...); !errors.As(err, &te) {
		t.Fatalf("second attempt during the first: %v", err)
	}
	must(t, first.Succeed())
	for range lim.MaxFailures {
		a, err := th.Begin(ctx, keys[0])
		if err != nil {
			t.Fatalf("the account after a success: %v", err)
		}
		defer a.Release()
	}
	// The address is still in its lock episode: one attempt at a time.
	a, err = th.Begin(ctx, keys[1])
	if err != nil {
		t.Fatalf("the address after a success: %v", err)
	}
	defer a.Release()
	if _, err := th.Begin(ctx, keys[1]); !errors.As(err, &te) {
		t.Fatalf("the address's second attempt after a success: %v", err)
	}
	mustLen(t, th, 2)
}

// testSucceedKeepsAddress: one valid account does not clear an address's
// failures at other accounts (password spraying), so the address locks
// after MaxFailures wrong guesses however many successes come between.
func testSucceedKeepsAddress(t *testing.T, mk Maker) {
	ctx := t.Context()
	lim := auth.DefaultLimits()
	th := mk(t, NewClock().Now, lim)
	for i := range lim.MaxFailures {
		a, err := th.Begin(ctx, fmt.Sprint("login:victim", i), "ip:203.0.113.9")
		if err != nil {
			t.Fatalf("guess %d: %v", i, err)
		}
		must(t, a.Fail())
		if i < lim.MaxFailures-1 {
			ok, err := th.Begin(ctx, "login:mine", "ip:203.0.113.9")
			if err != nil {
				t.Fatalf("own login %d: %v", i, err)
			}
			must(t, ok.Succeed())
		}
	}
	var te *auth.ThrottledError
	if _, err := th.Begin(ctx, "login:victim9", "ip:203.0.113.9"); !errors.As(err, &te) || te.Wait != lim.BaseLock {
		t.Fatalf("after %d guesses with successes between them: %v, want the address locked", lim.MaxFailures, err)
	}
	// The account's own key was cleared by its successes.
	if ok, _, err := th.Allow(ctx, "login:mine"); !ok || err != nil {
		t.Fatalf("the succeeding account is locked (%v)", err)
	}
}

// testSucceedKeepsInFlight: a success does not forget attempts on its key
// that are still being checked; they keep counting, so the key still has
// room for only MaxFailures attempts at once.
func testSucceedKeepsInFlight(t *testing.T, mk Maker) {
	ctx := t.Context()
	lim := auth.DefaultLimits()
	lim.MaxFailures = 2
	th := mk(t, NewClock().Now, lim)
	a1, err := th.Begin(ctx, "login:olga")
	must(t, err)
	a2, err := th.Begin(ctx, "login:olga")
	must(t, err)
	defer a2.Release()
	must(t, a1.Succeed())
	a3, err := th.Begin(ctx, "login:olga")
	if err != nil {
		t.Fatalf("after the success: %v", err)
	}
	defer a3.Release()
	var te *auth.ThrottledError
	if _, err := th.Begin(ctx, "login:olga"); !errors.As(err, &te) {
		t.Fatalf("a third attempt in flight with room for %d: %v", lim.MaxFailures, err)
	}
	// Settling a2 and a3 as failures locks the key: their count was kept.
	must(t, a2.Fail())
	must(t, a3.Fail())
	if ok, _, _ := th.Allow(ctx, "login:olga"); ok {
		t.Fatal("two failures after the success did not lock the key")
	}
}

func testReleasedLeavesNothing(t *testing.T, mk Maker) {
	th := mk(t, NewClock().Now, auth.DefaultLimits())
	a, err := th.Begin(t.Context(), "login:x", "ip:y")
	must(t, err)
	must(t, a.Release())
	mustLen(t, th, 0)
}

// testLeaseEnds: an attempt never settled (its server died) stops
// counting after auth.AttemptLease; settled later, its failure still
// counts.
func testLeaseEnds(t *testing.T, mk Maker) {
	ctx := t.Context()
	lim := auth.DefaultLimits()
	lim.MaxFailures = 2
	clock := NewClock()
	th := mk(t, clock.Now, lim)
	lost, err := th.Begin(ctx, "login:lease")
	must(t, err)
	a, err := th.Begin(ctx, "login:lease")
	must(t, err)
	var te *auth.ThrottledError
	if _, err := th.Begin(ctx, "login:lease"); !errors.As(err, &te) || te.Wait != auth.InflightWait {
		t.Fatalf("a third attempt with two in flight: %v", err)
	}
	clock.Set(T0.Add(auth.AttemptLease))
	b, err := th.Begin(ctx, "login:lease")
	if err != nil {
		t.Fatalf("after the leases ended: %v", err)
	}
	must(t, a.Fail()) // late, but a failure all the same
	must(t, b.Fail())
	if ok, _, _ := th.Allow(ctx, "login:lease"); ok {
		t.Fatal("two failures did not lock the key")
	}
	must(t, lost.Release())
}

// Exact checks that throttles a and b, which share their state (one
// throttle, or one throttle name on two replicas of a database), together
// let through exactly lim.MaxFailures attempts on one key when many
// goroutines on both guess at once, each failing its attempt as soon as
// it has one: in-flight attempts and failures are counted across them.
func Exact(t *testing.T, lim auth.Limits, a, b *auth.Throttle) {
	ctx := t.Context()
	keys := []string{"login:exact", "ip:198.51.100.1"}
	var mu sync.Mutex
	granted := 0
	var wg sync.WaitGroup
	for g := range 16 {
		th := a
		if g%2 == 1 {
			th = b
		}
		wg.Go(func() {
			for {
				att, err := th.Begin(ctx, keys...)
				var te *auth.ThrottledError
				switch {
				case errors.As(err, &te) && te.Wait == auth.InflightWait:
					time.Sleep(time.Millisecond)
					continue
				case errors.As(err, &te):
					return // locked
				case err != nil:
					t.Error(err)
					return
				}
				mu.Lock()
				granted++
				mu.Unlock()
				if err := att.Fail(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if granted != lim.MaxFailures {
		t.Fatalf("%d attempts were let through, want exactly %d", granted, lim.MaxFailures)
	}
	for _, th := range []*auth.Throttle{a, b} {
		if ok, _, err := th.Allow(ctx, keys[0]); ok || err != nil {
			t.Fatalf("the key is not locked everywhere: %v %v", ok, err)
		}
	}
	if _, err := a.Begin(context.WithoutCancel(ctx), keys[1]); err == nil {
		t.Fatal("the address is not locked")
	}
}

// BenchmarkAttempts runs failed login attempts (Begin, Fail) on th from
// parallel goroutines, each on a new account and address, so that none
// is refused and every one writes both keys.
func BenchmarkAttempts(b *testing.B, th *auth.Throttle) {
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		for i := 0; pb.Next(); i++ {
			att, err := th.Begin(b.Context(), fmt.Sprintf("login:bench%d-%d", g, i), fmt.Sprintf("ip:%d-%d", g, i))
			if err != nil {
				b.Error(err)
				return
			}
			if err := att.Fail(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/attempt")
}
