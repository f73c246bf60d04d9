// Package notices is the in-process side of change notices
// (lanyard.NoticeStore, lanyard.Notices; docs/architecture.md, "Change
// notices"): the Bus that hands notices to the subscribers of one store,
// and the Queue a transaction keeps them in until it commits. The stores
// use it (internal/store/sqlstore; PostgreSQL adds the LISTEN/NOTIFY
// transport between replicas on top); it knows no database.
package notices

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Notice is one notice. Lost (with no kind) stands for a notice too
// large to send: receivers run their OnLost handlers instead.
type Notice struct {
	Kind    lanyard.NoticeKind
	Payload string
	Lost    bool
}

// Make checks a notice about to be sent: an invalid kind or payload is
// EInternal (the callers are Lanyard's own code), a payload beyond
// lanyard.MaxNoticePayload becomes a Lost notice.
func Make(kind lanyard.NoticeKind, payload string) (Notice, error) {
	if !kind.Valid() {
		return Notice{}, lanyard.Errorf(lanyard.EInternal, "notice kind %q is not valid", kind)
	}
	if !utf8.ValidString(payload) || strings.IndexByte(payload, 0) >= 0 {
		return Notice{}, lanyard.Errorf(lanyard.EInternal, "notice %s: the payload is not text", kind)
	}
	if len(payload) > lanyard.MaxNoticePayload {
		return Notice{Lost: true}, nil
	}
	return Notice{Kind: kind, Payload: payload}, nil
}

// Queue holds the notices of one transaction until it commits, without
// duplicates, in the order first sent. The zero Queue is empty.
type Queue struct {
	list []Notice
	seen map[Notice]bool
}

// Add queues n unless it is queued already.
func (q *Queue) Add(n Notice) {
	if q.seen[n] {
		return
	}
	if q.seen == nil {
		q.seen = map[Notice]bool{}
	}
	q.seen[n] = true
	q.list = append(q.list, n)
}

// List returns the queued notices in order.
func (q *Queue) List() []Notice { return q.list }

// Bus delivers notices to the handlers subscribed to their kind, and
// losses to the OnLost handlers. It implements lanyard.Notices. The zero
// Bus is ready to use.
type Bus struct {
	mu   sync.RWMutex
	next int
	subs map[lanyard.NoticeKind]map[int]func(string)
	lost map[int]func()
}

var _ lanyard.Notices = (*Bus)(nil)

// Subscribe calls fn with the payload of every notice of kind delivered
// until cancel is called.
func (b *Bus) Subscribe(kind lanyard.NoticeKind, fn func(payload string)) (cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[lanyard.NoticeKind]map[int]func(string){}
	}
	if b.subs[kind] == nil {
		b.subs[kind] = map[int]func(string){}
	}
	id := b.next
	b.next++
	b.subs[kind][id] = fn
	return func() {
		b.mu.Lock()
		delete(b.subs[kind], id)
		b.mu.Unlock()
	}
}

// OnLost calls fn on every Lost until cancel is called.
func (b *Bus) OnLost(fn func()) (cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.lost == nil {
		b.lost = map[int]func(){}
	}
	id := b.next
	b.next++
	b.lost[id] = fn
	return func() {
		b.mu.Lock()
		delete(b.lost, id)
		b.mu.Unlock()
	}
}

// Deliver hands n to its subscribers (a Lost notice to the OnLost
// handlers), on the caller's goroutine. Handlers are called outside the
// bus's lock, so they may subscribe and cancel.
func (b *Bus) Deliver(n Notice) {
	if n.Lost {
		b.Lost()
		return
	}
	b.mu.RLock()
	fns := make([]func(string), 0, len(b.subs[n.Kind]))
	for _, fn := range b.subs[n.Kind] {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn(n.Payload)
	}
}

// Lost calls every OnLost handler: notices may have been missed.
func (b *Bus) Lost() {
	b.mu.RLock()
	fns := make([]func(), 0, len(b.lost))
	for _, fn := range b.lost {
		fns = append(fns, fn)
	}
	b.mu.RUnlock()
	for _, fn := range fns {
		fn()
	}
}
