package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PurgeInterval is how often a process deletes the expired rows of the
// throttles it shares (Throttles): the table holds the keys active within
// a Window, not every address that ever tried.
const PurgeInterval = time.Minute

// Throttles makes the throttles of one server: kept in the database when
// it has a store, so that every replica of a cluster shares them, and in
// memory otherwise. Each throttle has a name (its keys are apart from
// other throttles' keys); the processes of a cluster must agree on the
// names and limits.
//
// A key is stored as an HMAC-SHA256 of the throttle's name and the key
// under hashKey (RFC 2104), never as is: keys hold logins and client
// addresses, and a database dump must not tell who tried to sign in from
// where (an unkeyed hash of an IPv4 address is reversed by trying all
// 2^32). Every replica must use the same hashKey (lanyard serve derives it
// from the master key).
type Throttles struct {
	store   lanyard.ThrottleStore // nil: in memory
	hashKey []byte
	now     func() time.Time

	nextPurge atomic.Int64 // unix nanoseconds
}

// NewThrottles returns the maker of throttles over store, which may be
// nil for throttles in memory (then hashKey is not used).
func NewThrottles(store lanyard.ThrottleStore, hashKey []byte, now func() time.Time) (*Throttles, error) {
	switch {
	case now == nil:
		return nil, errors.New("auth: throttles need a clock")
	case store != nil && len(hashKey) < 16:
		return nil, errors.New("auth: throttles in a database need a hash key of 16 bytes or more")
	}
	return &Throttles{store: store, hashKey: hashKey, now: now}, nil
}

// Shared reports whether the throttles live in the database.
func (ts *Throttles) Shared() bool { return ts.store != nil }

// New returns the throttle name with lim (Limits.MaxKeys bounds only a
// throttle in memory).
func (ts *Throttles) New(name string, lim Limits) (*Throttle, error) {
	if ts.store == nil {
		return NewThrottle(ts.now, lim)
	}
	if name == "" {
		return nil, errors.New("auth: a shared throttle needs a name")
	}
	if err := lim.check(); err != nil {
		return nil, err
	}
	return &Throttle{now: ts.now, lim: lim, be: &storeBackend{ts: ts, name: name, window: lim.Window}}, nil
}

// hash is the stored key of throttle name's key.
func (ts *Throttles) hash(name, key string) []byte {
	m := hmac.New(sha256.New, ts.hashKey)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(key))
	return m.Sum(nil)
}

// purge deletes expired rows once per PurgeInterval in this process. It
// runs in the call that finds the interval over, after its own update;
// an error is left for the next interval.
func (ts *Throttles) purge(ctx context.Context, now time.Time) {
	next := ts.nextPurge.Load()
	if now.UnixNano() < next || !ts.nextPurge.CompareAndSwap(next, now.Add(PurgeInterval).UnixNano()) {
		return
	}
	_, _ = ts.store.PurgeThrottles(ctx, now)
}

// storeBackend keeps a throttle's entries in the database: each update is
// one transaction over the keys' rows, locked (lanyard.ThrottleStore), so
// a check and a reservation made on one replica are seen by the next on
// any other.
type storeBackend struct {
	ts     *Throttles
	name   string
	window time.Duration
}

func (b *storeBackend) update(ctx context.Context, keys []string, now time.Time, fn func([]*entry) error) error {
	hashes := make([][]byte, len(keys))
	for i, k := range keys {
		hashes[i] = b.ts.hash(b.name, k)
	}
	err := b.ts.store.UpdateThrottles(ctx, hashes, func(rows []lanyard.ThrottleRow) error {
		es := make([]*entry, len(rows))
		for i, r := range rows {
			if r.Value == nil {
				continue
			}
			e, err := decodeEntry(r.Value)
			if err != nil {
				return lanyard.Wrap(lanyard.EInternal, err, "a throttle row is corrupt")
			}
			es[i] = e
		}
		if err := fn(es); err != nil {
			return err
		}
		for i, e := range es {
			if e == nil {
				rows[i] = lanyard.ThrottleRow{}
			} else {
				rows[i] = lanyard.ThrottleRow{Value: encodeEntry(e), ExpiresAt: expiresAt(e, b.window)}
			}
		}
		return nil
	})
	b.ts.purge(ctx, now)
	return err
}

func (b *storeBackend) size(ctx context.Context) (int, error) {
	n, err := b.ts.store.CountThrottles(ctx)
	return int(n), err
}
