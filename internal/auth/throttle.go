package auth

import (
	"container/list"
	"errors"
	"fmt"
	"sync"
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
	// MaxKeys bounds memory; beyond it the key whose last failure is
	// oldest is forgotten.
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

// Throttle slows down password guessing. It counts failures per key; the
// web layer uses one key per account ("login:<name>") and one per client
// address ("ip:<addr>"), so that neither guessing many passwords for one
// account nor one password for many accounts goes fast.
//
// A key is locked once it has MaxFailures failures within Window. While
// locked, Allow refuses it. Once locked, every further failure locks it
// again for twice as long (exponential backoff), until the key has seen
// no failure and no lock for Window; then it starts afresh.
//
// State lives in memory: each server replica throttles on its own, which
// multiplies an attacker's rate by the number of replicas but needs no
// shared store on the login path. It is safe for concurrent use.
type Throttle struct {
	now func() time.Time
	lim Limits

	mu   sync.Mutex
	keys map[string]*list.Element // of *throttleEntry
	lru  *list.List               // least recently failed at the front
}

type throttleEntry struct {
	key      string
	failures []time.Time // within Window, oldest first, at most MaxFailures
	level    int         // locks so far in this episode
	last     time.Time   // last failure
	until    time.Time   // locked until
	inflight int         // attempts begun and not settled (Begin)
}

// NewThrottle returns a Throttle that reads the time from now (pass
// time.Now; tests pass a fake clock).
func NewThrottle(now func() time.Time, lim Limits) (*Throttle, error) {
	switch {
	case now == nil:
		return nil, errors.New("auth: throttle needs a clock")
	case lim.MaxFailures < 1 || lim.Window <= 0 || lim.BaseLock <= 0 || lim.MaxLock < lim.BaseLock || lim.MaxKeys < 1:
		return nil, errors.New("auth: throttle limits must be positive, with MaxLock >= BaseLock")
	}
	return &Throttle{now: now, lim: lim, keys: make(map[string]*list.Element), lru: list.New()}, nil
}

// Allow reports whether an attempt for key may proceed now and, when it
// may not, how long until it may. Call it before checking a password,
// and answer refusals without checking: the point is to not let the
// attacker learn anything while locked.
func (t *Throttle) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	el := t.keys[key]
	if el == nil {
		return true, 0
	}
	e := el.Value.(*throttleEntry)
	if t.expired(e, now) {
		t.remove(el)
		return true, 0
	}
	if now.Before(e.until) {
		return false, e.until.Sub(now)
	}
	return true, 0
}

// Failure records a failed attempt for key.
func (t *Throttle) Failure(key string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failure(key, now)
}

// failure is Failure with t.mu held.
func (t *Throttle) failure(key string, now time.Time) {
	t.sweep(now)
	el := t.keys[key]
	if el != nil && t.expired(el.Value.(*throttleEntry), now) {
		t.remove(el)
		el = nil
	}
	if el == nil {
		t.makeRoom()
		el = t.lru.PushBack(&throttleEntry{key: key})
		t.keys[key] = el
	} else {
		t.lru.MoveToBack(el)
	}
	e := el.Value.(*throttleEntry)
	// Keep the failures still inside the window, plus this one.
	cut := 0
	for cut < len(e.failures) && now.Sub(e.failures[cut]) >= t.lim.Window {
		cut++
	}
	e.failures = append(e.failures[cut:], now)
	if len(e.failures) > t.lim.MaxFailures {
		e.failures = e.failures[len(e.failures)-t.lim.MaxFailures:]
	}
	e.last = now
	if e.level > 0 || len(e.failures) >= t.lim.MaxFailures {
		if until := now.Add(t.lockFor(e.level)); until.After(e.until) {
			e.until = until
		}
		e.level++
	}
}

// Success forgets key: a person who got in is not an attacker for that
// key. The caller decides which keys a success clears; clearing the
// account key but not the address key keeps one valid account from
// resetting an address that guesses at others.
func (t *Throttle) Success(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forget(key)
}

// forget clears key's failures and lock (with t.mu held). An entry with
// attempts still in flight stays, so that they keep counting (Begin) and
// their settling finds them.
func (t *Throttle) forget(key string) {
	el := t.keys[key]
	if el == nil {
		return
	}
	e := el.Value.(*throttleEntry)
	if e.inflight == 0 {
		t.remove(el)
		return
	}
	e.failures, e.level, e.last, e.until = nil, 0, time.Time{}, time.Time{}
}

// makeRoom forgets the entry whose last failure is oldest when MaxKeys
// are held, skipping entries with attempts in flight (there are at most as
// many of those as checks running at once, so the bound holds but for
// them).
func (t *Throttle) makeRoom() {
	if len(t.keys) < t.lim.MaxKeys {
		return
	}
	for el := t.lru.Front(); el != nil; el = el.Next() {
		if el.Value.(*throttleEntry).inflight == 0 {
			t.remove(el)
			return
		}
	}
}

// ThrottledError is Begin's refusal: the attempt may be tried again after
// Wait (an HTTP server sends it as Retry-After).
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many attempts; try again in %s", e.Wait.Round(time.Second))
}

// inflightWait is the Retry-After of an attempt refused because others on
// its key are still being checked: they finish within a password check.
const inflightWait = time.Second

// Attempt is a try reserved on a throttle's keys by Begin. Until it is
// settled it counts against each key as if it had failed, so parallel
// attempts cannot all slip past a key that has room for only a few more
// failures. Settle it exactly once with Fail, Succeed or Release (extra
// calls do nothing), typically with a deferred Release.
//
// The first key is the account's ("login:<name>"), the others the
// client's ("ip:<addr>"): a success clears only the first.
type Attempt struct {
	t       *Throttle
	keys    []string
	settled bool
}

// Begin reserves an attempt on every key, before any password or code is
// checked. It refuses, with a *ThrottledError, while a key is locked, or
// while the key's failures within Window plus its attempts in flight
// already reach MaxFailures (once a key has been locked, any failure locks
// it again, so it then has room for one attempt at a time). Nothing is
// reserved when it refuses.
func (t *Throttle) Begin(keys ...string) (*Attempt, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	for _, k := range keys {
		el := t.keys[k]
		if el == nil {
			continue
		}
		e := el.Value.(*throttleEntry)
		if t.expired(e, now) {
			t.remove(el)
			continue
		}
		if now.Before(e.until) {
			return nil, &ThrottledError{Wait: e.until.Sub(now)}
		}
		if e.inflight >= t.room(e, now) {
			return nil, &ThrottledError{Wait: inflightWait}
		}
	}
	for _, k := range keys {
		el := t.keys[k]
		if el == nil {
			t.makeRoom()
			el = t.lru.PushBack(&throttleEntry{key: k})
			t.keys[k] = el
		}
		el.Value.(*throttleEntry).inflight++
	}
	return &Attempt{t: t, keys: keys}, nil
}

// room is how many failures e may still have before it locks.
func (t *Throttle) room(e *throttleEntry, now time.Time) int {
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
func (a *Attempt) Fail() {
	a.settle(func(k string, now time.Time) { a.t.failure(k, now) })
}

// Succeed settles a as a success: its first key, the account's, is
// forgotten (Success). The other keys keep their failures: otherwise
// someone with one valid account would clear their address's failures
// after every few guesses at other accounts and guess on for ever.
func (a *Attempt) Succeed() {
	a.settle(func(k string, _ time.Time) {
		if len(a.keys) > 0 && k == a.keys[0] {
			a.t.forget(k)
		}
	})
}

// Release settles a without counting it either way: the check could not
// be made, or it passed only the first of two factors.
func (a *Attempt) Release() { a.settle(func(string, time.Time) {}) }

func (a *Attempt) settle(then func(key string, now time.Time)) {
	if a == nil {
		return
	}
	now := a.t.now()
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	if a.settled {
		return
	}
	a.settled = true
	for _, k := range a.keys {
		if el := a.t.keys[k]; el != nil {
			if e := el.Value.(*throttleEntry); e.inflight > 0 {
				e.inflight--
			}
		}
		then(k, now)
		if el := a.t.keys[k]; el != nil && a.t.expired(el.Value.(*throttleEntry), now) {
			a.t.remove(el) // reserved, released, and nothing to remember
		}
	}
}

// Len returns the number of keys held, for metrics and tests.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
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

// expired reports whether e has been quiet, neither failing nor locked,
// for a whole Window: then it no longer affects anything.
func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	if e.inflight > 0 {
		return false
	}
	quietSince := e.last
	if e.until.After(quietSince) {
		quietSince = e.until
	}
	return now.Sub(quietSince) >= t.lim.Window
}

// sweep drops a few expired entries from the front of the LRU list, so
// that memory follows the number of active keys without a background
// goroutine. Entries at the front failed longest ago and expire first.
func (t *Throttle) sweep(now time.Time) {
	for range 4 {
		el := t.lru.Front()
		if el == nil || !t.expired(el.Value.(*throttleEntry), now) {
			return
		}
		t.remove(el)
	}
}

func (t *Throttle) remove(el *list.Element) {
	t.lru.Remove(el)
	delete(t.keys, el.Value.(*throttleEntry).key)
}
