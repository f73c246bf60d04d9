package storetest

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/auth/throttletest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// throttleStore is s as the throttles' store; every engine is one.
func throttleStore(t *testing.T, s lanyard.Store) lanyard.ThrottleStore {
	t.Helper()
	ts, ok := s.(lanyard.ThrottleStore)
	if !ok {
		t.Fatalf("%T is not a lanyard.ThrottleStore", s)
	}
	return ts
}

// testThrottleRows: a key without a row reads as a zero row; what fn
// leaves is written, a nil value deletes; an error from fn changes
// nothing; parallel updates of one key are serialized (no lost update);
// PurgeThrottles deletes exactly the rows expired at its time.
func testThrottleRows(t *testing.T, s lanyard.Store) {
	ctx := t.Context()
	ts := throttleStore(t, s)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	read := func(keys ...[]byte) []lanyard.ThrottleRow {
		var out []lanyard.ThrottleRow
		if err := ts.UpdateThrottles(ctx, keys, func(rows []lanyard.ThrottleRow) error {
			out = append(out, rows...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	count := func(want int64) {
		t.Helper()
		if n, err := ts.CountThrottles(ctx); err != nil || n != want {
			t.Fatalf("CountThrottles = %d, %v; want %d", n, err, want)
		}
	}
	if rows := read(k2, k1); rows[0].Value != nil || !rows[0].ExpiresAt.IsZero() || rows[1].Value != nil {
		t.Fatalf("no rows yet: %+v", rows)
	}
	count(0) // reading left no placeholder behind
	if err := ts.UpdateThrottles(ctx, [][]byte{k2, k1}, func(rows []lanyard.ThrottleRow) error {
		rows[0] = lanyard.ThrottleRow{Value: []byte("two"), ExpiresAt: t0.Add(time.Hour)}
		rows[1] = lanyard.ThrottleRow{Value: []byte("one"), ExpiresAt: t0.Add(time.Minute)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if rows := read(k1, k2); string(rows[0].Value) != "one" || !rows[0].ExpiresAt.Equal(t0.Add(time.Minute)) ||
		string(rows[1].Value) != "two" || !rows[1].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("written rows read back as %+v", rows)
	}
	boom := errors.New("boom")
	if err := ts.UpdateThrottles(ctx, [][]byte{k1}, func(rows []lanyard.ThrottleRow) error {
		rows[0].Value = []byte("lost")
		return boom
	}); err != boom {
		t.Fatalf("fn's error came back as %v", err)
	}
	if rows := read(k1); string(rows[0].Value) != "one" {
		t.Fatalf("a failed update changed the row: %q", rows[0].Value)
	}

	// Parallel read-modify-writes of one key lose nothing.
	k3 := bytes.Repeat([]byte{3}, 32)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if err := ts.UpdateThrottles(ctx, [][]byte{k3, k1}, func(rows []lanyard.ThrottleRow) error {
					rows[0].Value = append(bytes.Clone(rows[0].Value), 'x')
					rows[0].ExpiresAt = t0
					return nil
				}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if rows := read(k3); len(rows[0].Value) != 40 {
		t.Fatalf("40 parallel appends left %d", len(rows[0].Value))
	}
	count(3)

	if n, err := ts.PurgeThrottles(ctx, t0.Add(time.Minute-time.Microsecond)); err != nil || n != 1 {
		t.Fatalf("purge before k1 expired: %d, %v; want k3's row", n, err)
	}
	if n, err := ts.PurgeThrottles(ctx, t0.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("purge when k1 expired: %d, %v", n, err)
	}
	count(1)
	if err := ts.UpdateThrottles(ctx, [][]byte{k2}, func(rows []lanyard.ThrottleRow) error {
		rows[0] = lanyard.ThrottleRow{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	count(0)
}

// ThrottleHashKey is the hash key of the throttles tests make.
var ThrottleHashKey = bytes.Repeat([]byte{0x5a}, 32)

// RunThrottles runs the auth.Throttle contract (throttletest) on
// throttles kept in a store from open, emptied before each subtest (a
// purge at the end of time): the subtests run one after the other.
func RunThrottles(t *testing.T, open func(t *testing.T) lanyard.Store) {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	end := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	throttletest.Run(t, func(t *testing.T, now func() time.Time, lim auth.Limits) *auth.Throttle {
		if _, err := throttleStore(t, s).PurgeThrottles(t.Context(), end); err != nil {
			t.Fatal(err)
		}
		return mustShared(t, s, now, lim)
	}, throttletest.Options{Rounds: 5})
}

func mustShared(t *testing.T, s lanyard.Store, now func() time.Time, lim auth.Limits) *auth.Throttle {
	t.Helper()
	ts, err := auth.NewThrottles(throttleStore(t, s), ThrottleHashKey, now)
	if err != nil {
		t.Fatal(err)
	}
	th, err := ts.New("login", lim)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// ThrottleReplicas checks that stores a and b, two handles on one
// database acting as two server replicas, share their throttles exactly:
// many goroutines on both guessing at one key at once get exactly
// MaxFailures attempts in all (throttletest.Exact), as many reservations
// at once and as many counted requests, and expired rows are purged.
func ThrottleReplicas(t *testing.T, a, b lanyard.Store) {
	clock := throttletest.NewClock()
	lim := auth.DefaultLimits()
	ta, tb := mustShared(t, a, clock.Now, lim), mustShared(t, b, clock.Now, lim)
	throttletest.Exact(t, lim, ta, tb)

	// Reservations alone, without failures: exactly MaxFailures at once.
	var mu sync.Mutex
	var granted []*auth.Attempt
	var wg sync.WaitGroup
	for g := range 20 {
		th := ta
		if g%2 == 1 {
			th = tb
		}
		wg.Go(func() {
			att, err := th.Begin(t.Context(), "login:reserve")
			var te *auth.ThrottledError
			switch {
			case err == nil:
				mu.Lock()
				granted = append(granted, att)
				mu.Unlock()
			case !errors.As(err, &te):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(granted) != lim.MaxFailures {
		t.Fatalf("%d attempts reserved at once on two replicas, want %d", len(granted), lim.MaxFailures)
	}
	for _, att := range granted {
		if err := att.Release(); err != nil {
			t.Fatal(err)
		}
	}
	// Requests that count whatever their outcome (Count, the pairing
	// requests): exactly MaxFailures pass before the lock.
	passed := 0
	for g := range 20 {
		th := ta
		if g%2 == 1 {
			th = tb
		}
		wg.Go(func() {
			ok, _, err := th.Count(t.Context(), "pair:198.51.100.2")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if passed != lim.MaxFailures {
		t.Fatalf("%d counted requests passed on two replicas, want %d", passed, lim.MaxFailures)
	}
	if n, err := ta.Len(t.Context()); err != nil || n != 3 {
		t.Fatalf("rows left: %d, %v; want the two keys of Exact and the counted one", n, err)
	}
	// Expired rows are purged by the next call a PurgeInterval later.
	clock.Set(throttletest.T0.Add(lim.MaxLock + lim.Window + auth.PurgeInterval))
	if _, err := tb.Begin(t.Context(), "login:late"); err != nil {
		t.Fatal(err)
	}
	if n, err := tb.Len(t.Context()); err != nil || n != 1 {
		t.Fatalf("rows after the purge: %d, %v; want the one in flight", n, err)
	}
}

// BenchmarkThrottleAttempt measures what the shared login throttle adds
// to a login: Begin on the account's and the address's keys, then the
// settling (a failure), each a transaction, from parallel goroutines on
// distinct accounts. It reports microseconds per attempt.
func BenchmarkThrottleAttempt(b *testing.B, s lanyard.Store) {
	ts, ok := s.(lanyard.ThrottleStore)
	if !ok {
		b.Fatalf("%T is not a lanyard.ThrottleStore", s)
	}
	throttles, err := auth.NewThrottles(ts, ThrottleHashKey, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	th, err := throttles.New("login", auth.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	throttletest.BenchmarkAttempts(b, th)
}
