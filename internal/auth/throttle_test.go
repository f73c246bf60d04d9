package auth

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock; safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func mustThrottle(tb testing.TB, lim Limits) (*Throttle, *fakeClock) {
	tb.Helper()
	c := &fakeClock{t: t0}
	th, err := NewThrottle(c.now, lim)
	if err != nil {
		tb.Fatal(err)
	}
	return th, c
}

// step is one call at a time offset from t0. For "allow", ok and retry
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

func TestThrottle(t *testing.T) {
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
			th, c := mustThrottle(t, DefaultLimits())
			for i, st := range tt.steps {
				c.set(t0.Add(st.at))
				switch st.op {
				case "fail":
					th.Failure(st.key)
				case "success":
					th.Success(st.key)
				case "allow":
					ok, retry := th.Allow(st.key)
					if ok != st.ok || retry != st.retry {
						t.Fatalf("step %d at %v: Allow(%s) = %v, %v; want %v, %v", i, st.at, st.key, ok, retry, st.ok, st.retry)
					}
				}
			}
		})
	}
}

func TestThrottleExpiry(t *testing.T) {
	th, c := mustThrottle(t, DefaultLimits())
	for i := range 3 {
		th.Failure(fmt.Sprint("ip:", i))
	}
	if th.Len() != 3 {
		t.Fatalf("Len = %d, want 3", th.Len())
	}
	c.set(t0.Add(15*m - s))
	th.Allow("other")
	if th.Len() != 3 {
		t.Fatalf("Len = %d before the window passed, want 3", th.Len())
	}
	c.set(t0.Add(15 * m))
	th.Allow("other") // any call sweeps expired entries
	if th.Len() != 0 {
		t.Fatalf("Len = %d after the window, want 0", th.Len())
	}
}

func TestThrottleCapacity(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxKeys = 3
	th, c := mustThrottle(t, lim)
	for range 5 {
		th.Failure("a")
	}
	if ok, _ := th.Allow("a"); ok {
		t.Fatal("a not locked")
	}
	c.set(t0.Add(s))
	th.Failure("b")
	th.Failure("c")
	th.Failure("b") // b is now the most recent
	th.Failure("d") // evicts a, whose last failure is oldest
	if th.Len() != 3 {
		t.Fatalf("Len = %d, want 3", th.Len())
	}
	if ok, _ := th.Allow("a"); !ok {
		t.Fatal("a still tracked after eviction")
	}
	th.Failure("e") // evicts c, not b
	for range 3 {
		th.Failure("b")
	}
	// b kept its earlier two failures: 2 + 3 = 5 locks it.
	if ok, _ := th.Allow("b"); ok {
		t.Fatal("b lost its failures: the wrong key was evicted")
	}
}

func TestThrottleConcurrent(t *testing.T) {
	th, _ := mustThrottle(t, DefaultLimits())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprint("ip:", g)
			for range 100 {
				th.Failure("login:shared")
				th.Allow("login:shared")
				th.Failure(own)
				th.Success(own)
				th.Len()
			}
		}()
	}
	wg.Wait()
	if ok, _ := th.Allow("login:shared"); ok {
		t.Fatal("800 failures did not lock the key")
	}
	if th.Len() != 1 {
		t.Fatalf("Len = %d, want 1", th.Len())
	}
}

func TestNewThrottle(t *testing.T) {
	good := DefaultLimits()
	if _, err := NewThrottle(nil, good); err == nil {
		t.Error("nil clock accepted")
	}
	bad := []func(*Limits){
		func(l *Limits) { l.MaxFailures = 0 },
		func(l *Limits) { l.Window = 0 },
		func(l *Limits) { l.BaseLock = 0 },
		func(l *Limits) { l.MaxLock = l.BaseLock - 1 },
		func(l *Limits) { l.MaxKeys = 0 },
	}
	for i, change := range bad {
		l := good
		change(&l)
		if _, err := NewThrottle(time.Now, l); err == nil {
			t.Errorf("case %d: limits %+v accepted", i, l)
		}
	}
	if _, err := NewThrottle(time.Now, good); err != nil {
		t.Fatal(err)
	}
}

// TestThrottleBegin: an attempt counts before its check. Of many parallel
// attempts on one key with room for MaxFailures failures, only that many
// are let through; Release gives the room back, Fail keeps it used, and
// Succeed forgets the account's key but not the address's.
func TestThrottleBegin(t *testing.T) {
	lim := DefaultLimits()
	th, clock := mustThrottle(t, lim)
	keys := []string{"login:olga", "ip:192.0.2.1"}

	var mu sync.Mutex
	var granted []*Attempt
	refused := 0
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := th.Begin(keys...)
			mu.Lock()
			defer mu.Unlock()
			var te *ThrottledError
			switch {
			case err == nil:
				granted = append(granted, a)
			case errors.As(err, &te) && te.Wait == inflightWait:
				refused++
			default:
				t.Errorf("Begin: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(granted) != lim.MaxFailures || refused != 100-lim.MaxFailures {
		t.Fatalf("granted %d, refused %d; want %d granted", len(granted), refused, lim.MaxFailures)
	}
	// Another key is not affected by the first one's attempts.
	other, err := th.Begin("login:otto")
	if err != nil {
		t.Fatalf("another key: %v", err)
	}
	other.Release()

	granted[0].Release()
	granted[0].Fail() // settled already: no effect
	a, err := th.Begin(keys...)
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	granted[0] = a
	for _, a := range granted {
		a.Fail()
	}
	_, err = th.Begin(keys...)
	var te *ThrottledError
	if !errors.As(err, &te) || te.Wait != lim.BaseLock {
		t.Fatalf("after %d failures: %v, want a lock of %v", lim.MaxFailures, err, lim.BaseLock)
	}

	// Once the lock ends, a locked key has room for one attempt at a time.
	clock.set(t0.Add(lim.BaseLock + time.Second))
	first, err := th.Begin(keys...)
	if err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if _, err := th.Begin(keys...); !errors.As(err, &te) {
		t.Fatalf("second attempt during the first: %v", err)
	}
	first.Succeed()
	for range lim.MaxFailures {
		a, err := th.Begin(keys[0])
		if err != nil {
			t.Fatalf("the account after a success: %v", err)
		}
		defer a.Release()
	}
	// The address is still in its lock episode: one attempt at a time.
	a, err = th.Begin(keys[1])
	if err != nil {
		t.Fatalf("the address after a success: %v", err)
	}
	defer a.Release()
	if _, err := th.Begin(keys[1]); !errors.As(err, &te) {
		t.Fatalf("the address's second attempt after a success: %v", err)
	}
	if th.Len() != 2 {
		t.Fatalf("Len = %d, want the 2 keys in flight", th.Len())
	}
}

// TestSucceedKeepsTheAddressKey: one valid account does not clear an
// address's failures at other accounts (password spraying), so the
// address locks after MaxFailures wrong guesses however many successes
// come between them.
func TestSucceedKeepsTheAddressKey(t *testing.T) {
	lim := DefaultLimits()
	th, _ := mustThrottle(t, lim)
	for i := range lim.MaxFailures {
		a, err := th.Begin(fmt.Sprint("login:victim", i), "ip:203.0.113.9")
		if err != nil {
			t.Fatalf("guess %d: %v", i, err)
		}
		a.Fail()
		if i < lim.MaxFailures-1 {
			ok, err := th.Begin("login:mine", "ip:203.0.113.9")
			if err != nil {
				t.Fatalf("own login %d: %v", i, err)
			}
			ok.Succeed()
		}
	}
	var te *ThrottledError
	if _, err := th.Begin("login:victim9", "ip:203.0.113.9"); !errors.As(err, &te) || te.Wait != lim.BaseLock {
		t.Fatalf("after %d guesses with successes between them: %v, want the address locked", lim.MaxFailures, err)
	}
	// The account's own key was cleared by its successes.
	if ok, _ := th.Allow("login:mine"); !ok {
		t.Fatal("the succeeding account is locked")
	}
}

// TestSucceedKeepsAttemptsInFlight: a success does not forget attempts on
// its key that are still being checked; they keep counting, so the key
// still has room for only MaxFailures attempts at once.
func TestSucceedKeepsAttemptsInFlight(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxFailures = 2
	th, _ := mustThrottle(t, lim)
	a1, err := th.Begin("login:olga")
	if err != nil {
		t.Fatal(err)
	}
	a2, err := th.Begin("login:olga")
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Release()
	a1.Succeed()
	a3, err := th.Begin("login:olga")
	if err != nil {
		t.Fatalf("after the success: %v", err)
	}
	defer a3.Release()
	var te *ThrottledError
	if _, err := th.Begin("login:olga"); !errors.As(err, &te) {
		t.Fatalf("a third attempt in flight with room for %d: %v", lim.MaxFailures, err)
	}
	// Settling a2 and a3 as failures locks the key: their count was kept.
	a2.Fail()
	a3.Fail()
	if ok, _ := th.Allow("login:olga"); ok {
		t.Fatal("two failures after the success did not lock the key")
	}
}

// TestEvictionKeepsAttemptsInFlight: at MaxKeys, a key with attempts in
// flight is not the one forgotten.
func TestEvictionKeepsAttemptsInFlight(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxKeys, lim.MaxFailures = 2, 1
	th, _ := mustThrottle(t, lim)
	a, err := th.Begin("login:olga") // oldest, in flight
	if err != nil {
		t.Fatal(err)
	}
	th.Failure("b")
	th.Failure("c") // evicts b, not olga
	var te *ThrottledError
	if _, err := th.Begin("login:olga"); !errors.As(err, &te) {
		t.Fatalf("the key in flight was evicted: %v", err)
	}
	a.Release()
}

func TestThrottleBeginReleasedLeavesNothing(t *testing.T) {
	th, _ := mustThrottle(t, DefaultLimits())
	a, err := th.Begin("login:x", "ip:y")
	if err != nil {
		t.Fatal(err)
	}
	a.Release()
	if th.Len() != 0 {
		t.Fatalf("Len = %d after a released attempt", th.Len())
	}
}
