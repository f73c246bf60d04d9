package auth

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// memBackend keeps a Throttle's entries in this process's memory, at most
// Limits.MaxKeys of them: one process, one mutex. Entries sit in a list
// ordered by their last failure, so that the one to forget when full and
// the ones to sweep when expired are at the front.
type memBackend struct {
	maxKeys int
	window  time.Duration

	mu   sync.Mutex
	keys map[string]*list.Element // of *memEntry
	lru  *list.List               // least recently failed at the front
}

type memEntry struct {
	key string
	e   *entry
}

func newMemBackend(lim Limits) *memBackend {
	return &memBackend{maxKeys: lim.MaxKeys, window: lim.Window, keys: make(map[string]*list.Element), lru: list.New()}
}

func (b *memBackend) update(_ context.Context, keys []string, now time.Time, fn func([]*entry) error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweep(now)
	es := make([]*entry, len(keys))
	for i, k := range keys {
		if el := b.keys[k]; el != nil {
			es[i] = el.Value.(*memEntry).e
		}
	}
	if err := fn(es); err != nil {
		return err
	}
	for i, k := range keys {
		el := b.keys[k]
		switch {
		case es[i] == nil && el != nil:
			b.remove(el)
		case es[i] == nil:
		case el == nil:
			b.makeRoom(now)
			b.keys[k] = b.lru.PushBack(&memEntry{key: k, e: es[i]})
		default:
			el.Value.(*memEntry).e = es[i]
			if es[i].failed {
				b.lru.MoveToBack(el)
			}
		}
		if es[i] != nil {
			es[i].failed = false
		}
	}
	return nil
}

func (b *memBackend) size(context.Context) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.keys), nil
}

// makeRoom forgets the entry whose last failure is oldest when MaxKeys
// are held, skipping entries with attempts in flight (there are at most as
// many of those as checks running at once, so the bound holds but for
// them).
func (b *memBackend) makeRoom(now time.Time) {
	if len(b.keys) < b.maxKeys {
		return
	}
	for el := b.lru.Front(); el != nil; el = el.Next() {
		if countLive(el.Value.(*memEntry).e.holds, now) == 0 {
			b.remove(el)
			return
		}
	}
}

// sweep drops a few expired entries from the front of the list, so that
// memory follows the number of active keys without a background
// goroutine. Entries at the front failed longest ago and expire first.
func (b *memBackend) sweep(now time.Time) {
	for range 4 {
		el := b.lru.Front()
		if el == nil {
			return
		}
		e := el.Value.(*memEntry).e
		if countLive(e.holds, now) > 0 || now.Before(expiresAt(e, b.window)) {
			return
		}
		b.remove(el)
	}
}

func (b *memBackend) remove(el *list.Element) {
	b.lru.Remove(el)
	delete(b.keys, el.Value.(*memEntry).key)
}
