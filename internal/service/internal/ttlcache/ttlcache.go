// Package ttlcache is the services' small read cache with expiry: the
// identity capability caches token principals in it, the catalog
// templates and policies. It lives under internal/service so that only
// the services use it.
package ttlcache

import (
	"sync"
	"time"
)

// ReadTTL bounds how long a cached read (a token's principal, a template)
// may be served after a change made by another server replica whose
// change notice was lost (docs/architecture.md, "Change notices"):
// changes made through this process, and those whose notices arrive,
// invalidate at once. Two seconds keeps the hot
// issuance path off the database while a revoked token or disabled user
// stops working everywhere almost immediately.
const ReadTTL = 2 * time.Second

// Cache is a small map with expiry for read-mostly objects. Values must be
// treated as immutable by callers.
type Cache[K comparable, V any] struct {
	mu   sync.RWMutex
	now  func() time.Time
	ttl  time.Duration
	max  int
	data map[K]entry[V]
	gen  uint64 // counts Purges (Gen, PutSince)
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache whose entries expire ttl after they were put (by
// now's clock) and which holds at most max entries.
func New[K comparable, V any](now func() time.Time, ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{now: now, ttl: ttl, max: max, data: map[K]entry[V]{}}
}

// Get returns k's value unless it is missing or expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.data[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put stores v under k until the TTL has passed.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, v)
}

func (c *Cache[K, V]) putLocked(k K, v V) {
	if len(c.data) >= c.max {
		// Dropping everything is crude but bounded and rare: the cache
		// refills from the database within one TTL.
		clear(c.data)
	}
	c.data[k] = entry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// Purge drops every entry (after a change that may affect any of them).
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	clear(c.data)
	c.gen++
	c.mu.Unlock()
}

// Gen is the cache's generation: take it before reading a value from the
// database, and store the value with PutSince.
func (c *Cache[K, V]) Gen() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// PutSince stores v under k unless the cache was purged since Gen
// returned gen: a value read before a change committed, whose purge (a
// change notice from another replica, say) came before this Put, would
// otherwise be served until the TTL passes.
func (c *Cache[K, V]) PutSince(gen uint64, k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.putLocked(k, v)
	}
}
