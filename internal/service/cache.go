package service

import (
	"sync"
	"time"
)

// readCacheTTL bounds how long a cached read (a token's principal, a
// template) may be served after a change made by another server replica.
// Changes made through this process invalidate at once. Two seconds keeps
// the hot issuance path off the database while a revoked token or disabled
// user stops working everywhere almost immediately.
const readCacheTTL = 2 * time.Second

// ttlCache is a small map with expiry for read-mostly objects. Values must
// be treated as immutable by callers.
type ttlCache[K comparable, V any] struct {
	mu   sync.RWMutex
	now  func() time.Time
	ttl  time.Duration
	max  int
	data map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[K comparable, V any](now func() time.Time, ttl time.Duration, max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{now: now, ttl: ttl, max: max, data: map[K]ttlEntry[V]{}}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.data[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.data) >= c.max {
		// Dropping everything is crude but bounded and rare: the cache
		// refills from the database within one TTL.
		clear(c.data)
	}
	c.data[k] = ttlEntry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// purge drops every entry (after a change that may affect any of them).
func (c *ttlCache[K, V]) purge() {
	c.mu.Lock()
	clear(c.data)
	c.mu.Unlock()
}
