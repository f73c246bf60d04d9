package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// The rules of a Throttle are checked for every backend by
// throttletest.Run (contract_test.go for this process's memory,
// internal/store/storetest for the databases); these tests pin down what
// only the in-memory backend has: its bound on keys and its sweep.

// fakeClock is a settable clock; safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func mustThrottle(tb testing.TB, lim Limits) (*Throttle, *fakeClock) {
	tb.Helper()
	c := &fakeClock{t: t0}
	th, err := NewThrottle(c.Now, lim)
	if err != nil {
		tb.Fatal(err)
	}
	return th, c
}

const (
	s = time.Second
	m = time.Minute
)

func size(t *testing.T, th *Throttle) int {
	t.Helper()
	n, err := th.Len(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func allows(th *Throttle, key string) bool {
	ok, _, err := th.Allow(context.Background(), key)
	return ok && err == nil
}

func TestThrottleExpiry(t *testing.T) {
	ctx := t.Context()
	th, c := mustThrottle(t, DefaultLimits())
	for i := range 3 {
		th.Failure(ctx, fmt.Sprint("ip:", i))
	}
	if n := size(t, th); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	c.Set(t0.Add(15*m - s))
	allows(th, "other")
	if n := size(t, th); n != 3 {
		t.Fatalf("Len = %d before the window passed, want 3", n)
	}
	c.Set(t0.Add(15 * m))
	allows(th, "other") // any call sweeps expired entries
	if n := size(t, th); n != 0 {
		t.Fatalf("Len = %d after the window, want 0", n)
	}
}

func TestThrottleCapacity(t *testing.T) {
	ctx := t.Context()
	lim := DefaultLimits()
	lim.MaxKeys = 3
	th, c := mustThrottle(t, lim)
	for range 5 {
		th.Failure(ctx, "a")
	}
	if allows(th, "a") {
		t.Fatal("a not locked")
	}
	c.Set(t0.Add(s))
	th.Failure(ctx, "b")
	th.Failure(ctx, "c")
	th.Failure(ctx, "b") // b is now the most recent
	th.Failure(ctx, "d") // evicts a, whose last failure is oldest
	if n := size(t, th); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	if !allows(th, "a") {
		t.Fatal("a still tracked after eviction")
	}
	th.Failure(ctx, "e") // evicts c, not b
	for range 3 {
		th.Failure(ctx, "b")
	}
	// b kept its earlier two failures: 2 + 3 = 5 locks it.
	if allows(th, "b") {
		t.Fatal("b lost its failures: the wrong key was evicted")
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
	if _, err := NewThrottles(nil, nil, nil); err == nil {
		t.Error("throttles without a clock accepted")
	}
}

// TestEvictionKeepsAttemptsInFlight: at MaxKeys, a key with attempts in
// flight is not the one forgotten.
func TestEvictionKeepsAttemptsInFlight(t *testing.T) {
	ctx := t.Context()
	lim := DefaultLimits()
	lim.MaxKeys, lim.MaxFailures = 2, 1
	th, _ := mustThrottle(t, lim)
	a, err := th.Begin(ctx, "login:olga") // oldest, in flight
	if err != nil {
		t.Fatal(err)
	}
	th.Failure(ctx, "b")
	th.Failure(ctx, "c") // evicts b, not olga
	var te *ThrottledError
	if _, err := th.Begin(ctx, "login:olga"); !errors.As(err, &te) {
		t.Fatalf("the key in flight was evicted: %v", err)
	}
	a.Release()
}

// TestEntryCodec: the stored form round-trips, zero times included.
func TestEntryCodec(t *testing.T) {
	e := &entry{level: 3, last: t0.Add(s), until: t0.Add(m),
		failures: []time.Time{t0, t0.Add(s)}, holds: []hold{{id: 1<<63 + 5, until: t0.Add(AttemptLease)}}}
	got, err := decodeEntry(encodeEntry(e))
	if err != nil {
		t.Fatal(err)
	}
	if got.level != e.level || !got.last.Equal(e.last) || !got.until.Equal(e.until) || len(got.failures) != 2 ||
		!got.failures[1].Equal(e.failures[1]) || len(got.holds) != 1 || got.holds[0] != (hold{e.holds[0].id, e.holds[0].until.UTC()}) {
		t.Fatalf("round trip: %+v, want %+v", got, e)
	}
	empty, err := decodeEntry(encodeEntry(&entry{}))
	if err != nil || !empty.last.IsZero() || !empty.until.IsZero() || empty.failures != nil || empty.holds != nil {
		t.Fatalf("empty entry: %+v, %v", empty, err)
	}
	for _, bad := range [][]byte{nil, {}, {2}, {entryFormat}, append(encodeEntry(e), 0)} {
		if _, err := decodeEntry(bad); err == nil {
			t.Errorf("decodeEntry(%x) accepted", bad)
		}
	}
}

// FuzzDecodeEntry: a stored row never panics the decoder, and what it
// accepts survives encoding and decoding again unchanged.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(encodeEntry(&entry{}))
	f.Add(encodeEntry(&entry{level: 2, last: t0, until: t0.Add(m), failures: []time.Time{t0}, holds: []hold{{7, t0}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEntry(b)
		if err != nil {
			return
		}
		enc := encodeEntry(e)
		e2, err := decodeEntry(enc)
		if err != nil {
			t.Fatalf("decodeEntry(encodeEntry(%+v)): %v", e, err)
		}
		if again := encodeEntry(e2); string(again) != string(enc) {
			t.Fatalf("encode, decode, encode: %x, want %x", again, enc)
		}
	})
}
