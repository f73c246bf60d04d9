package auth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Limits configure a Throttle.
type Limits struct {
	// MaxFailures failures within Window lock a key.
	MaxFailures int
	Window      time.Duration
	// The first lock lasts BaseLock; each further failure before the key
	// has been quiet for Window doubles it, up to MaxLock.
	BaseLock time.Duration
	MaxLock  time.Duration
	// MaxKeys bounds the memory of an in-memory Throttle (NewThrottle);
	// beyond it the key whose last failure is oldest is forgotten. A
	// Throttle kept in the database (Throttles) is bounded by purging
	// expired keys instead.
	MaxKeys int
}

// DefaultLimits returns the limits for logins: 5 failures in 15 minutes
// lock for 30 s, then 60 s, 120 s … up to 15 minutes, which stops online
// guessing without locking out a person who mistypes a few times. 100 000
// keys take roughly 30 MB at most.
func DefaultLimits() Limits {
	return Limits{
		MaxFailures: 5,
		Window:      15 * time.Minute,
		BaseLock:    30 * time.Second,
		MaxLock:     15 * time.Minute,
		MaxKeys:     100_000,
	}
}

func (lim Limits) check() error {
	if lim.MaxFailures < 1 || lim.Window <= 0 || lim.BaseLock <= 0 || lim.MaxLock < lim.BaseLock || lim.MaxKeys < 1 {
		return errors.New("auth: throttle limits must be positive, with MaxLock >= BaseLock")
	}
	return nil
}

// AttemptLease is how long an attempt reserved by Begin counts at most
// when it is never settled: its server died while checking it. It is
// longer than any request may last (the servers' write timeouts are a
// minute), so a live attempt never loses its reservation.
const AttemptLease = 2 * time.Minute

// Throttle slows down guessing of passwords, codes and answers. It counts
// failures per key; the login throttle uses one key per account
// ("login:<name>") and one per client network ("ip:<addr>"), so that
// neither guessing many passwords for one account nor one password for
// many accounts goes fast.
//
// A key is locked once it has MaxFailures failures within Window. While
// locked, Allow and Begin refuse it. Once locked, every further failure
// locks it again for twice as long (exponential backoff), until the key
// has seen no failure and no lock for Window; then it starts afresh.
//
// Where the state lives is the backend's business: NewThrottle keeps it
// in this process's memory, Throttles.New in the database, where every
// replica of a cluster reads and changes it under a row lock, so that N
// replicas give an attacker no more guesses than one (attempts in flight
// included, Begin). The rules above are the same for both. It is safe for
// concurrent use.
type Throttle struct {
	now func() time.Time
	lim Limits
	be  backend
}

// backend keeps a Throttle's entries.
type backend interface {
	// update runs fn on the entries of keys (distinct), nil for a key
	// not held, each locked against every other update until it
	// returns, and then keeps what fn left in es: nil forgets the key.
	// If fn fails nothing is kept; fn changes entries only when it is
	// going to succeed.
	update(ctx context.Context, keys []string, now time.Time, fn func(es []*entry) error) error
	// size is the number of keys held, for metrics and tests.
	size(ctx context.Context) (int, error)
}

// entry is one key's state.
type entry struct {
	failures []time.Time // within Window, oldest first, at most MaxFailures
	level    int         // locks so far in this episode
	last     time.Time   // last failure
	until    time.Time   // locked until
	holds    []hold      // attempts begun and not settled (Begin)

	failed bool // failure was called in this update (not stored)
}

// hold is an attempt in flight: it counts until settled or until its
// lease ends (AttemptLease).
type hold struct {
	id    uint64
	until time.Time
}

// NewThrottle returns a Throttle that keeps its state in this process's
// memory and reads the time from now (pass time.Now; tests pass a fake
// clock). A cluster's replicas share a Throttle from Throttles.New
// instead.
func NewThrottle(now func() time.Time, lim Limits) (*Throttle, error) {
	if now == nil {
		return nil, errors.New("auth: throttle needs a clock")
	}
	if err := lim.check(); err != nil {
		return nil, err
	}
	return &Throttle{now: now, lim: lim, be: newMemBackend(lim)}, nil
}

// Allow reports whether an attempt for key may proceed now and, when it
// may not, how long until it may. Call it before checking a password,
// and answer refusals without checking: the point is to not let the
// attacker learn anything while locked. It reserves nothing: where
// parallel attempts must not slip past a lock, use Begin. An error means
// the state could not be read (the database is down).
func (t *Throttle) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	now := t.now()
	err = t.be.update(ctx, []string{key}, now, func(es []*entry) error {
		if es[0] = t.live(es[0], now); es[0] != nil && now.Before(es[0].until) {
			retryAfter = es[0].until.Sub(now)
		}
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return retryAfter == 0, retryAfter, nil
}

// Failure records a failed attempt for key.
func (t *Throttle) Failure(ctx context.Context, key string) error {
	now := t.now()
	return t.be.update(ctx, []string{key}, now, func(es []*entry) error {
		es[0] = t.failure(t.live(es[0], now), now)
		return nil
	})
}

// Count is Allow and, when it allows, Failure, in one step: for requests
// that count whatever their outcome (an unauthenticated request that
// stores something, such as a pairing request). Parallel requests on
// every replica sharing the throttle are counted one after the other, so
// exactly MaxFailures of them get through before the lock.
func (t *Throttle) Count(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	now := t.now()
	err = t.be.update(ctx, []string{key}, now, func(es []*entry) error {
		e := t.live(es[0], now)
		if e != nil && now.Before(e.until) {
			retryAfter = e.until.Sub(now)
			es[0] = e
			return nil
		}
		es[0] = t.failure(e, now)
		return nil
	})
	if err != nil {
		return false, 0, err
	}
	return retryAfter == 0, retryAfter, nil
}

// Success forgets key: a person who got in is not an attacker for that
// key. The caller decides which keys a success clears; clearing the
// account key but not the address key keeps one valid account from
// resetting an address that guesses at others.
func (t *Throttle) Success(ctx context.Context, key string) error {
	now := t.now()
	return t.be.update(ctx, []string{key}, now, func(es []*entry) error {
		es[0] = t.forget(t.live(es[0], now), now)
		return nil
	})
}

// Len returns the number of keys held, for metrics and tests (keys that
// expired but were not purged yet included).
func (t *Throttle) Len(ctx context.Context) (int, error) { return t.be.size(ctx) }

// live returns e, or nil once it has expired or when it is nil. Expired
// holds are dropped on the way.
func (t *Throttle) live(e *entry, now time.Time) *entry {
	if e == nil {
		return nil
	}
	e.holds = liveHolds(e.holds, now)
	if t.expired(e, now) {
		return nil
	}
	return e
}

// countLive is how many of hs have not reached the end of their lease.
func countLive(hs []hold, now time.Time) int {
	n := 0
	for _, h := range hs {
		if now.Before(h.until) {
			n++
		}
	}
	return n
}

// liveHolds drops the holds of hs whose lease has ended, in place.
func liveHolds(hs []hold, now time.Time) []hold {
	out := hs[:0]
	for _, h := range hs {
		if now.Before(h.until) {
			out = append(out, h)
		}
	}
	return out
}

// failure counts a failure at now on e (nil: a fresh key) and returns it.
func (t *Throttle) failure(e *entry, now time.Time) *entry {
	if e == nil {
		e = &entry{}
	}
	// Keep the failures still inside the window, plus this one.
	cut := 0
	for cut < len(e.failures) && now.Sub(e.failures[cut]) >= t.lim.Window {
		cut++
	}
	e.failures = append(e.failures[cut:], now)
	if len(e.failures) > t.lim.MaxFailures {
		e.failures = e.failures[len(e.failures)-t.lim.MaxFailures:]
	}
	e.last, e.failed = now, true
	if e.level > 0 || len(e.failures) >= t.lim.MaxFailures {
		if until := now.Add(t.lockFor(e.level)); until.After(e.until) {
			e.until = until
		}
		e.level++
	}
	return e
}

// forget clears e's failures and lock. An entry with attempts still in
// flight stays, so that they keep counting (Begin) and their settling
// finds them.
func (t *Throttle) forget(e *entry, now time.Time) *entry {
	if e == nil || countLive(e.holds, now) == 0 {
		return nil
	}
	e.failures, e.level, e.last, e.until = nil, 0, time.Time{}, time.Time{}
	return e
}

// ThrottledError is Begin's refusal: the attempt may be tried again after
// Wait (an HTTP server sends it as Retry-After).
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many attempts; try again in %s", e.Wait.Round(time.Second))
}

// InflightWait is the Retry-After of an attempt refused because others on
// its key are still being checked: they finish within a password check.
const InflightWait = time.Second

// Attempt is a try reserved on a throttle's keys by Begin. Until it is
// settled it counts against each key as if it had failed, so parallel
// attempts — on every replica sharing the throttle — cannot all slip past
// a key that has room for only a few more failures. Settle it exactly
// once with Fail, Succeed or Release (extra calls do nothing), typically
// with a deferred Release. An attempt never settled (its server died)
// stops counting after AttemptLease.
//
// The first key is the account's ("login:<name>"), the others the
// client's ("ip:<addr>"): a success clears only the first.
type Attempt struct {
	t       *Throttle
	ctx     context.Context // Begin's, without its cancellation: settling must happen
	keys    []string
	id      uint64
	settled atomic.Bool
}

// Begin reserves an attempt on every key, before any password or code is
// checked. It refuses, with a *ThrottledError, while a key is locked, or
// while the key's failures within Window plus its attempts in flight
// already reach MaxFailures (once a key has been locked, any failure locks
// it again, so it then has room for one attempt at a time). Nothing is
// reserved when it refuses. Any other error means the state could not be
// read or written (the database is down); nothing is reserved then either.
func (t *Throttle) Begin(ctx context.Context, keys ...string) (*Attempt, error) {
	keys = distinct(keys)
	now := t.now()
	id := rand.Uint64()
	err := t.be.update(ctx, keys, now, func(es []*entry) error {
		for i := range es {
			e := t.live(es[i], now)
			if e == nil {
				continue
			}
			if now.Before(e.until) {
				return &ThrottledError{Wait: e.until.Sub(now)}
			}
			if len(e.holds) >= t.room(e, now) {
				return &ThrottledError{Wait: InflightWait}
			}
		}
		for i := range es {
			e := t.live(es[i], now)
			if e == nil {
				e = &entry{}
			}
			e.holds = append(e.holds, hold{id: id, until: now.Add(AttemptLease)})
			es[i] = e
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Attempt{t: t, ctx: context.WithoutCancel(ctx), keys: keys, id: id}, nil
}

// distinct returns keys without repeats, in their order (the first stays
// first: it is the account's).
func distinct(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		dup := false
		for _, o := range out {
			dup = dup || o == k
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// room is how many failures e may still have before it locks.
func (t *Throttle) room(e *entry, now time.Time) int {
	if e.level > 0 {
		return 1
	}
	n := 0
	for _, f := range e.failures {
		if now.Sub(f) < t.lim.Window {
			n++
		}
	}
	return t.lim.MaxFailures - n
}

// Fail settles a as a failure on each of its keys.
func (a *Attempt) Fail() error {
	return a.settle(func(_ int, e *entry, now time.Time) *entry { return a.t.failure(e, now) })
}

// Succeed settles a as a success: its first key, the account's, is
// forgotten (Success). The other keys keep their failures: otherwise
// someone with one valid account would clear their address's failures
// after every few guesses at other accounts and guess on for ever.
func (a *Attempt) Succeed() error {
	return a.settle(func(i int, e *entry, now time.Time) *entry {
		if i == 0 {
			return a.t.forget(e, now)
		}
		return e
	})
}

// Release settles a without counting it either way: the check could not
// be made, or it passed only the first of two factors.
func (a *Attempt) Release() error {
	return a.settle(func(_ int, e *entry, _ time.Time) *entry { return e })
}

// settle gives back a's holds and applies then to each key's entry (nil:
// not held). An error (the database is down) leaves the holds to expire
// with their lease; the attempt counts as settled all the same.
func (a *Attempt) settle(then func(i int, e *entry, now time.Time) *entry) error {
	if a == nil || !a.settled.CompareAndSwap(false, true) {
		return nil
	}
	now := a.t.now()
	ctx, cancel := context.WithTimeout(a.ctx, settleTimeout)
	defer cancel()
	return a.t.be.update(ctx, a.keys, now, func(es []*entry) error {
		for i, e := range es {
			if e != nil {
				e.holds = dropHold(e.holds, a.id)
			}
			es[i] = a.t.live(then(i, a.t.live(e, now), now), now)
		}
		return nil
	})
}

// settleTimeout bounds the settling of an attempt, which runs after the
// request it belongs to may have been cancelled.
const settleTimeout = 10 * time.Second

func dropHold(hs []hold, id uint64) []hold {
	for i, h := range hs {
		if h.id == id {
			return append(hs[:i], hs[i+1:]...)
		}
	}
	return hs
}

// lockFor returns BaseLock doubled level times, capped at MaxLock.
func (t *Throttle) lockFor(level int) time.Duration {
	d := t.lim.BaseLock
	for range level {
		if d >= t.lim.MaxLock/2 {
			return t.lim.MaxLock
		}
		d *= 2
	}
	return min(d, t.lim.MaxLock)
}

// expired reports whether e has no attempt in flight and has been quiet,
// neither failing nor locked, for a whole Window: then it no longer
// affects anything.
func (t *Throttle) expired(e *entry, now time.Time) bool {
	if countLive(e.holds, now) > 0 {
		return false
	}
	return !now.Before(expiresAt(e, t.lim.Window))
}

// expiresAt is when e stops mattering if nothing happens to it: window
// after it was last quiet, and not before its holds' leases end.
func expiresAt(e *entry, window time.Duration) time.Time {
	quietSince := e.last
	if e.until.After(quietSince) {
		quietSince = e.until
	}
	at := quietSince.Add(window)
	if quietSince.IsZero() {
		at = time.Time{}
	}
	for _, h := range e.holds {
		if h.until.After(at) {
			at = h.until
		}
	}
	return at
}
