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
	// tagged indexes the entries put with a tag (PutSinceTag), so that
	// PurgeTag drops one record's entries without a scan.
	tagged map[int64]map[K]struct{}
}

type entry[V any] struct {
	v       V
	expires time.Time
	tag     int64 // 0: none
}

// New returns a cache whose entries expire ttl after they were put (by
// now's clock) and which holds at most max entries.
func New[K comparable, V any](now func() time.Time, ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{now: now, ttl: ttl, max: max, data: map[K]entry[V]{}, tagged: map[int64]map[K]struct{}{}}
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
	c.putLocked(k, v, 0)
}

func (c *Cache[K, V]) putLocked(k K, v V, tag int64) {
	if old, ok := c.data[k]; ok {
		c.untagLocked(k, old.tag)
	} else if len(c.data) >= c.max {
		// Dropping everything is crude but bounded and rare: the cache
		// refills from the database within one TTL.
		clear(c.data)
		clear(c.tagged)
	}
	c.data[k] = entry[V]{v: v, expires: c.now().Add(c.ttl), tag: tag}
	if tag != 0 {
		keys := c.tagged[tag]
		if keys == nil {
			keys = map[K]struct{}{}
			c.tagged[tag] = keys
		}
		keys[k] = struct{}{}
	}
}

func (c *Cache[K, V]) untagLocked(k K, tag int64) {
	if keys := c.tagged[tag]; keys != nil {
		delete(keys, k)
		if len(keys) == 0 {
			delete(c.tagged, tag)
		}
	}
}

// Purge drops every entry (after a change that may affect any of them).
func (c *Cache[K, V]) Purge() {
	c.mu.Lock()
	clear(c.data)
	clear(c.tagged)
	c.gen++
	c.mu.Unlock()
}

// PurgeTag drops the entries put with tag (after a change to that one
// record, a user say), keeping the others. Like Purge it makes the
// PutSince and PutSinceTag calls of values read before it store nothing:
// such a value may be the record before its change (the generation is
// the cache's, not the tag's, so an unrelated value read meanwhile is
// only not cached this once).
func (c *Cache[K, V]) PurgeTag(tag int64) {
	c.mu.Lock()
	for k := range c.tagged[tag] {
		delete(c.data, k)
	}
	delete(c.tagged, tag)
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
		c.putLocked(k, v, 0)
	}
}

// PutSinceTag is PutSince for a value that PurgeTag(tag) drops; tag is
// not 0 (a record's ID).
func (c *Cache[K, V]) PutSinceTag(gen uint64, k K, v V, tag int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.putLocked(k, v, tag)
	}
}
