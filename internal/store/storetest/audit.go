package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CheckAuditChain reads the whole audit log of s and fails tb unless it is
// one linear chain: Seq 1..n without gaps, each PrevHash the previous
// event's Hash (empty for the first), each Hash its CanonicalHash. It
// returns the events.
func CheckAuditChain(tb testing.TB, s lanyard.Store) []*lanyard.AuditEvent {
	tb.Helper()
	var events []*lanyard.AuditEvent
	MustView(tb, s, func(tx lanyard.Tx) (err error) { events, err = tx.ListAudit(lanyard.AuditFilter{}); return })
	var prev []byte
	for i, e := range events {
		if e.Seq != int64(i+1) {
			tb.Fatalf("audit event %d has seq %d: the chain has a gap or a fork", i+1, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			tb.Fatalf("audit event %d: PrevHash %x, want the previous Hash %x", e.Seq, e.PrevHash, prev)
		}
		if want := e.CanonicalHash(prev); !bytes.Equal(e.Hash, want) {
			tb.Fatalf("audit event %d: Hash %x, want CanonicalHash %x", e.Seq, e.Hash, want)
		}
		prev = e.Hash
	}
	return events
}

func testAudit(t *testing.T, s lanyard.Store) {
	first := []*lanyard.AuditEvent{
		NewEvent("alice", "user.create", "user", "bob", 0),
		NewEvent("alice", "user.update", "user", "bob", time.Second),
		NewEvent("system", "ca.crl", "ca", "builtin", 2*time.Second),
	}
	// Details are kept byte for byte: odd spacing, key order, escapes.
	first[1].Details = json.RawMessage("{\"z\": 1,  \"a\":[true,null],\n\"\\u00e9\":\"é\"}")
	first[2].Details, first[2].RemoteAddr = nil, ""
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, e := range first {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
		}
		return nil
	})
	var prev []byte
	for i, e := range first {
		if e.Seq != int64(i+1) {
			t.Errorf("event %d: Seq %d", i+1, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) || (i == 0 && len(e.PrevHash) != 0) {
			t.Errorf("event %d: PrevHash %x, want %x", i+1, e.PrevHash, prev)
		}
		if !bytes.Equal(e.Hash, e.CanonicalHash(prev)) || len(e.Hash) != 32 {
			t.Errorf("event %d: Hash %x is not CanonicalHash(PrevHash)", i+1, e.Hash)
		}
		wantTime(t, fmt.Sprintf("event %d Time", i+1), e.Time, at(time.Duration(i)*time.Second))
		prev = e.Hash
	}

	// A later transaction continues the chain.
	second := []*lanyard.AuditEvent{NewEvent("bob", "token.create", "token", "1", time.Hour), NewEvent("bob", "token.revoke", "token", "1", time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, e := range second {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
		}
		return nil
	})
	if second[0].Seq != 4 || !bytes.Equal(second[0].PrevHash, first[2].Hash) || second[1].Seq != 5 {
		t.Errorf("second transaction: seqs %d, %d, PrevHash %x; want 4, 5 and %x", second[0].Seq, second[1].Seq, second[0].PrevHash, first[2].Hash)
	}

	got := CheckAuditChain(t, s)
	equal(t, "ListAudit", got, append(first, second...))

	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.AppendAudit(&lanyard.AuditEvent{Actor: "x", Action: "no.time"})
	})
	wantCode(t, "AppendAudit without a time", err, lanyard.EInvalid)
}

func testAuditFilters(t *testing.T, s lanyard.Store) {
	events := []*lanyard.AuditEvent{
		NewEvent("alice", "user.create", "user", "bob", 0),    // 1
		NewEvent("alice", "user.update", "user", "bob", 0),    // 2
		NewEvent("bob", "cert.issue", "certificate", "1f", 0), // 3
		NewEvent("system", "ca.crl", "ca", "builtin", 0),      // 4
		NewEvent("alice", "user.update", "user", "carol", 0),  // 5
		NewEvent("bob", "cert.revoke", "certificate", "1f", 0),
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, e := range events {
			if err := tx.AppendAudit(e); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name string
		f    lanyard.AuditFilter
		want []int64
	}{
		{"all", lanyard.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6}},
		{"after seq", lanyard.AuditFilter{AfterSeq: 4}, []int64{5, 6}},
		{"after the last", lanyard.AuditFilter{AfterSeq: 6}, nil},
		{"action", lanyard.AuditFilter{Action: "user.update"}, []int64{2, 5}},
		{"object", lanyard.AuditFilter{ObjectType: "user", ObjectID: "bob"}, []int64{1, 2}},
		{"object type", lanyard.AuditFilter{ObjectType: "certificate"}, []int64{3, 6}},
		{"object id alone", lanyard.AuditFilter{ObjectID: "1f"}, []int64{3, 6}},
		{"actor", lanyard.AuditFilter{Actor: "bob"}, []int64{3, 6}},
		{"actor and action", lanyard.AuditFilter{Actor: "alice", Action: "user.create"}, []int64{1}},
		{"limit", lanyard.AuditFilter{Limit: 2}, []int64{1, 2}},
		{"page", lanyard.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
		{"filter and page", lanyard.AuditFilter{Actor: "alice", AfterSeq: 1, Limit: 1}, []int64{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			MustView(t, s, func(tx lanyard.Tx) error {
				got, err := tx.ListAudit(tc.f)
				if err != nil {
					return err
				}
				wantIDs(t, "ListAudit", got, func(e *lanyard.AuditEvent) int64 { return e.Seq }, tc.want...)
				return nil
			})
		})
	}
}

func testAuditConcurrent(t *testing.T, s lanyard.Store) {
	ConcurrentAppends(t, 8, 25, s)
}

// ConcurrentAppends runs workers goroutines that each make n Updates
// appending one event, spread over stores (several handles on the same
// database act as replicas), and then checks that the log is one linear
// chain holding every event exactly once, each worker's in its order.
func ConcurrentAppends(t *testing.T, workers, n int, stores ...lanyard.Store) {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range n {
				err := s.Update(t.Context(), func(tx lanyard.Tx) error {
					// Reading first widens the window in which a second
					// writer could read the same chain head.
					if _, err := tx.ListAudit(lanyard.AuditFilter{AfterSeq: 1 << 40}); err != nil {
						return err
					}
					return tx.AppendAudit(NewEvent(fmt.Sprintf("w%d", w), "test.append", "counter", fmt.Sprint(i), time.Duration(i)*time.Millisecond))
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d, update %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	events := CheckAuditChain(t, stores[0])
	if len(events) != workers*n {
		t.Fatalf("%d audit events, want %d", len(events), workers*n)
	}
	next := map[string]int{} // worker → next expected ObjectID
	for _, e := range events {
		if e.ObjectID != fmt.Sprint(next[e.Actor]) {
			t.Fatalf("event %d: %s's update %s, want %d", e.Seq, e.Actor, e.ObjectID, next[e.Actor])
		}
		next[e.Actor]++
	}
}
