package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// chainOf returns a fresh chain of n events; 2500 events span three pages.
func chainOf(n int) []*lanyard.AuditEvent {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := make([]*lanyard.AuditEvent, n)
	for i := range events {
		e := Event(fmt.Sprintf("user%d", i%7), "card.issue", "card", fmt.Sprint(1000+i), map[string]any{"i": i})
		e.Time = t0.Add(time.Duration(i) * time.Second)
		e.RemoteAddr = "192.0.2.10"
		events[i] = e
	}
	return Chain(events...)
}

// storePages serves events as a store would: sorted by Seq, after afterSeq,
// at most limit at a time. calls counts the pages asked for.
func storePages(events []*lanyard.AuditEvent, calls *int) PageFunc {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b *lanyard.AuditEvent) int { return int(a.Seq - b.Seq) })
	return func(ctx context.Context, afterSeq int64, limit int) ([]*lanyard.AuditEvent, error) {
		if calls != nil {
			*calls++
		}
		i, _ := slices.BinarySearchFunc(sorted, afterSeq+1, func(e *lanyard.AuditEvent, seq int64) int { return int(e.Seq - seq) })
		for i < len(sorted) && sorted[i].Seq <= afterSeq {
			i++
		}
		return sorted[i:min(i+limit, len(sorted))], nil
	}
}

func remove(events []*lanyard.AuditEvent, seqs ...int64) []*lanyard.AuditEvent {
	return slices.DeleteFunc(events, func(e *lanyard.AuditEvent) bool { return slices.Contains(seqs, e.Seq) })
}

// renumber sets the Seq of events[from:] to follow on from events[from-1]
// without touching their hashes, as a careless tamperer would.
func renumber(events []*lanyard.AuditEvent, from int) {
	for i := from; i < len(events); i++ {
		events[i].Seq = int64(i + 1)
	}
}

// rehash recomputes Hash (but not PrevHash) of events[from:], as a
// tamperer would who knows the hash but forgets the links.
func rehash(events []*lanyard.AuditEvent, from int) {
	for _, e := range events[from:] {
		e.Hash = e.CanonicalHash(e.PrevHash)
	}
}

func TestVerify(t *testing.T) {
	const n = 2500
	tests := []struct {
		name     string
		tamper   func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent
		head     func(orig []*lanyard.AuditEvent) Anchor
		problem  string // "" = OK
		firstBad int64
		// events is the number of events before the problem when it is not
		// firstBad-1 (two events claim one seq: the first counts).
		events int64
		// altered: the events before firstBad include one that was changed
		// and rehashed, which Verify cannot pin down.
		altered bool
	}{
		{name: "intact", tamper: nil},
		{name: "intact, anchored at head", head: headOf(n)},
		{name: "intact, anchored inside", head: headOf(1234)},
		{name: "intact, anchored by seq only", head: func([]*lanyard.AuditEvent) Anchor { return Anchor{Seq: n} }},

		{name: "actor changed", tamper: field(1500, func(e *lanyard.AuditEvent) { e.Actor = "mallory" }), problem: ProblemModified, firstBad: 1500},
		{name: "action changed", tamper: field(7, func(e *lanyard.AuditEvent) { e.Action = "card.revoke" }), problem: ProblemModified, firstBad: 7},
		{name: "object type changed", tamper: field(8, func(e *lanyard.AuditEvent) { e.ObjectType = "user" }), problem: ProblemModified, firstBad: 8},
		{name: "object id changed", tamper: field(9, func(e *lanyard.AuditEvent) { e.ObjectID = "1" }), problem: ProblemModified, firstBad: 9},
		{name: "remote addr changed", tamper: field(10, func(e *lanyard.AuditEvent) { e.RemoteAddr = "" }), problem: ProblemModified, firstBad: 10},
		{name: "details changed", tamper: field(11, func(e *lanyard.AuditEvent) { e.Details = []byte(`{"i":12}`) }), problem: ProblemModified, firstBad: 11},
		{name: "time changed by 1µs", tamper: field(12, func(e *lanyard.AuditEvent) { e.Time = e.Time.Add(time.Microsecond) }), problem: ProblemModified, firstBad: 12},
		{name: "prev hash changed", tamper: field(13, func(e *lanyard.AuditEvent) { e.PrevHash[0] ^= 1 }), problem: ProblemModified, firstBad: 13},
		{name: "hash changed", tamper: field(14, func(e *lanyard.AuditEvent) { e.Hash[31] ^= 1 }), problem: ProblemModified, firstBad: 14},
		{name: "hash emptied", tamper: field(15, func(e *lanyard.AuditEvent) { e.Hash = nil }), problem: ProblemModified, firstBad: 15},
		{name: "first event changed", tamper: field(1, func(e *lanyard.AuditEvent) { e.Actor = "x" }), problem: ProblemModified, firstBad: 1},
		{name: "last event changed", tamper: field(n, func(e *lanyard.AuditEvent) { e.Actor = "x" }), problem: ProblemModified, firstBad: n},
		{name: "last event of a page changed", tamper: field(PageSize, func(e *lanyard.AuditEvent) { e.Actor = "x" }), problem: ProblemModified, firstBad: PageSize},
		{name: "first event of a page changed", tamper: field(PageSize+1, func(e *lanyard.AuditEvent) { e.Actor = "x" }), problem: ProblemModified, firstBad: PageSize + 1},
		{name: "event changed and rehashed", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[99].Actor = "x" // event 100
			rehash(es, 99)
			return es
		}, problem: ProblemDeleted, firstBad: 101, altered: true}, // indistinguishable from a deletion at 101; see Detail
		{name: "two events changed: first reported", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[1999].Actor, es[299].Actor = "x", "x"
			return es
		}, problem: ProblemModified, firstBad: 300},

		{name: "middle event deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, 700) }, problem: ProblemDeleted, firstBad: 700},
		{name: "run of events deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, 998, 999, 1000, 1001) }, problem: ProblemDeleted, firstBad: 998},
		{name: "first event of a page deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, PageSize+1) }, problem: ProblemDeleted, firstBad: PageSize + 1},
		{name: "deleted and renumbered", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es = remove(es, 50)
			renumber(es, 49)
			return es
		}, problem: ProblemModified, firstBad: 50},
		{name: "deleted, renumbered and rehashed", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es = remove(es, 50)
			renumber(es, 49)
			rehash(es, 49)
			return es
		}, problem: ProblemDeleted, firstBad: 50},
		{name: "first event deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, 1) }, problem: ProblemHeadMissing, firstBad: 1},
		{name: "first events deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, 1, 2, 3) }, problem: ProblemHeadMissing, firstBad: 1},
		{name: "first event deleted, renumbered and rehashed", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es = remove(es, 1)
			renumber(es, 0)
			rehash(es, 0)
			return es
		}, problem: ProblemHeadMissing, firstBad: 1},
		{name: "last event deleted, no anchor: undetectable", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, n) }},
		{name: "last event deleted, anchored", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return remove(es, n) },
			head: headOf(n), problem: ProblemTruncated, firstBad: n},
		{name: "last events deleted, anchored by seq only", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return es[:2000] },
			head: func([]*lanyard.AuditEvent) Anchor { return Anchor{Seq: n} }, problem: ProblemTruncated, firstBad: 2001},
		{name: "everything deleted, anchored", tamper: func([]*lanyard.AuditEvent) []*lanyard.AuditEvent { return nil },
			head: headOf(n), problem: ProblemTruncated, firstBad: 1},
		{name: "events after the anchor deleted", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent { return es[:1500] },
			head: headOf(1500)},

		{name: "rewritten before the anchor", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[9].Actor = "x"
			return Chain(es...) // recomputes every link from event 10 on
		}, head: headOf(2000), problem: ProblemRewritten, firstBad: 2000, altered: true},
		{name: "rewritten after the anchor: undetectable", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[2099].Actor = "x"
			return Chain(es...)
		}, head: headOf(2000)},

		{name: "inserted with a duplicate seq", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			x := Event("mallory", "user.create", "user", "mallory", nil)
			Link(x, 399, es[398].Hash)
			return slices.Insert(es, 400, x)
		}, problem: ProblemInserted, firstBad: 400, events: 400},
		{name: "inserted and renumbered", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			x := Event("mallory", "user.create", "user", "mallory", nil)
			Link(x, 399, es[398].Hash) // a valid event 400 after event 399
			es = slices.Insert(es, 399, x)
			renumber(es, 400)
			return es
		}, problem: ProblemInserted, firstBad: 400},
		{name: "inserted, renumbered and rehashed", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			x := Event("mallory", "user.create", "user", "mallory", nil)
			Link(x, 1000, es[999].Hash)
			es = slices.Insert(es, 1000, x)
			renumber(es, 1001)
			rehash(es, 1001)
			return es
		}, problem: ProblemInserted, firstBad: 1001},

		{name: "neighbours swapped", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[599], es[600] = es[600], es[599] // events 600 and 601 trade places,
			es[599].Seq, es[600].Seq = 600, 601 // keeping the sequence numbers
			return es
		}, problem: ProblemReordered, firstBad: 600},
		{name: "neighbours swapped across a page", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[999], es[1000] = es[1000], es[999]
			es[999].Seq, es[1000].Seq = 1000, 1001
			return es
		}, problem: ProblemReordered, firstBad: 1000},
		{name: "first two swapped", tamper: func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
			es[0], es[1] = es[1], es[0]
			es[0].Seq, es[1].Seq = 1, 2
			return es
		}, problem: ProblemReordered, firstBad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := chainOf(n)
			events := chainOf(n)
			if tt.tamper != nil {
				events = tt.tamper(events)
			}
			var head Anchor
			if tt.head != nil {
				head = tt.head(orig)
			}
			rep, err := Verify(context.Background(), storePages(events, nil), head)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.problem == "" {
				if !rep.OK || rep.Problem != "" || rep.Events != int64(len(events)) {
					t.Fatalf("report %+v, want OK with %d events", rep, len(events))
				}
				last := events[len(events)-1]
				if rep.Last.Seq != last.Seq || string(rep.Last.Hash) != string(last.Hash) {
					t.Fatalf("Last = %d, want %d", rep.Last.Seq, last.Seq)
				}
				return
			}
			if rep.OK || rep.Problem != tt.problem || rep.FirstBad != tt.firstBad {
				t.Fatalf("report %q at %d (%s), want %q at %d", rep.Problem, rep.FirstBad, rep.Detail, tt.problem, tt.firstBad)
			}
			if rep.Detail == "" {
				t.Fatal("no detail")
			}
			// Everything before the first bad event was checked.
			wantEvents := tt.firstBad - 1
			if tt.events != 0 {
				wantEvents = tt.events
			}
			if tt.problem == ProblemTruncated {
				wantEvents = int64(len(events))
			}
			if rep.Events != wantEvents {
				t.Fatalf("Events = %d, want %d", rep.Events, wantEvents)
			}
			if rep.Events > 0 && rep.Last.Seq != rep.Events {
				t.Fatalf("Last = %d, want %d", rep.Last.Seq, rep.Events)
			}
			if rep.Events > 0 && !tt.altered && string(rep.Last.Hash) != string(orig[rep.Events-1].Hash) {
				t.Fatalf("Last is not the original event %d", rep.Events)
			}
		})
	}
}

// headOf anchors the original chain at seq.
func headOf(seq int64) func([]*lanyard.AuditEvent) Anchor {
	return func(orig []*lanyard.AuditEvent) Anchor {
		return Anchor{Seq: seq, Hash: orig[seq-1].Hash}
	}
}

// field changes one event in place.
func field(seq int64, change func(*lanyard.AuditEvent)) func([]*lanyard.AuditEvent) []*lanyard.AuditEvent {
	return func(es []*lanyard.AuditEvent) []*lanyard.AuditEvent {
		change(es[seq-1])
		return es
	}
}

func TestVerifyEmpty(t *testing.T) {
	rep, err := Verify(context.Background(), storePages(nil, nil), Anchor{})
	if err != nil || !rep.OK || rep.Events != 0 || !rep.Last.IsZero() {
		t.Fatalf("Verify(empty) = %+v, %v", rep, err)
	}
}

func TestVerifyPaging(t *testing.T) {
	calls := 0
	rep, err := Verify(context.Background(), storePages(chainOf(2500), &calls), Anchor{})
	if err != nil || !rep.OK {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if calls != 4 { // 1000 + 1000 + 500 + the empty page that ends the walk
		t.Fatalf("%d pages fetched, want 4", calls)
	}
}

// A store that ignores afterSeq, or sorts wrongly, must not make Verify
// loop or pass.
func TestVerifyMisbehavingPages(t *testing.T) {
	events := chainOf(10)
	tests := []struct {
		name    string
		page    PageFunc
		problem string
		bad     int64
	}{
		{"same page forever", func(context.Context, int64, int) ([]*lanyard.AuditEvent, error) { return events, nil }, ProblemReordered, 1},
		{"descending order", func(_ context.Context, after int64, _ int) ([]*lanyard.AuditEvent, error) {
			if after != 0 {
				return nil, nil
			}
			return []*lanyard.AuditEvent{events[0], events[2], events[1]}, nil
		}, ProblemDeleted, 2},
		{"step back", func(_ context.Context, after int64, _ int) ([]*lanyard.AuditEvent, error) {
			if after != 0 {
				return nil, nil
			}
			return []*lanyard.AuditEvent{events[0], events[1], events[2], events[1]}, nil
		}, ProblemReordered, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(context.Background(), tt.page, Anchor{})
			if err != nil || rep.Problem != tt.problem || rep.FirstBad != tt.bad {
				t.Fatalf("Verify = %+v, %v; want %q at %d", rep, err, tt.problem, tt.bad)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	boom := errors.New("database gone")
	events := chainOf(1500)
	failSecond := func(ctx context.Context, after int64, limit int) ([]*lanyard.AuditEvent, error) {
		if after > 0 {
			return nil, boom
		}
		return storePages(events, nil)(ctx, after, limit)
	}
	if _, err := Verify(context.Background(), failSecond, Anchor{}); !errors.Is(err, boom) {
		t.Fatalf("page error: %v", err)
	}
	// The lookahead after a break reads too; its errors surface as well.
	broken := chainOf(1000)
	broken[999].Actor = "x"
	failAhead := func(ctx context.Context, after int64, limit int) ([]*lanyard.AuditEvent, error) {
		if after > 0 {
			return nil, boom
		}
		return storePages(broken, nil)(ctx, after, limit)
	}
	if _, err := Verify(context.Background(), failAhead, Anchor{}); !errors.Is(err, boom) {
		t.Fatalf("lookahead error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, storePages(events, nil), Anchor{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	withNil := func(context.Context, int64, int) ([]*lanyard.AuditEvent, error) {
		return []*lanyard.AuditEvent{events[0], nil}, nil
	}
	if _, err := Verify(context.Background(), withNil, Anchor{}); err == nil || !strings.Contains(err.Error(), "nil event") {
		t.Fatalf("nil event: %v", err)
	}
}
