package ttlcache

import (
	"testing"
	"time"
)

// TestCache checks expiry at the TTL, Purge, and that a full cache drops
// its entries instead of growing.
func TestCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New[string, int](func() time.Time { return now }, ReadTTL, 2)
	c.Put("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v; want 1, true", v, ok)
	}
	now = now.Add(ReadTTL)
	if _, ok := c.Get("a"); ok {
		t.Fatal("an entry is served at its expiry")
	}
	c.Put("a", 1)
	c.Put("b", 2)
	c.Put("c", 3) // full: a and b go
	if _, ok := c.Get("a"); ok {
		t.Fatal("a full cache kept its old entries")
	}
	if v, ok := c.Get("c"); !ok || v != 3 {
		t.Fatalf("Get(c) = %d, %v; want 3, true", v, ok)
	}
	c.Purge()
	if _, ok := c.Get("c"); ok {
		t.Fatal("an entry survived Purge")
	}
}

// TestPutSince: a value read before a purge is not stored after it.
func TestPutSince(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New[string, int](func() time.Time { return now }, ReadTTL, 10)
	gen := c.Gen()
	c.PutSince(gen, "a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v; want 1, true", v, ok)
	}
	gen = c.Gen()
	c.Purge() // a change committed while the value was read
	c.PutSince(gen, "a", 2)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a value read before a purge was cached after it")
	}
}

// TestPurgeTag drops one tag's entries only, and a value read before it
// is not stored after it.
func TestPurgeTag(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New[string, int](func() time.Time { return now }, ReadTTL, 10)
	gen := c.Gen()
	c.PutSinceTag(gen, "a1", 1, 1)
	c.PutSinceTag(gen, "a2", 2, 1)
	c.PutSinceTag(gen, "b1", 3, 2)
	c.PutSinceTag(gen, "b1", 3, 2) // again: indexed once
	gen = c.Gen()
	c.PurgeTag(1)
	if _, ok := c.Get("a1"); ok {
		t.Fatal("a1 survived PurgeTag(1)")
	}
	if _, ok := c.Get("a2"); ok {
		t.Fatal("a2 survived PurgeTag(1)")
	}
	if v, ok := c.Get("b1"); !ok || v != 3 {
		t.Fatalf("PurgeTag(1) dropped b1: %d, %v", v, ok)
	}
	c.PutSinceTag(gen, "a1", 1, 1)
	if _, ok := c.Get("a1"); ok {
		t.Fatal("a value read before PurgeTag was cached after it")
	}
	c.PurgeTag(2)
	if _, ok := c.Get("b1"); ok || len(c.tagged) != 0 {
		t.Fatalf("after PurgeTag(2): b1 %v, index %v", ok, c.tagged)
	}
}
