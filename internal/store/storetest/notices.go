package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// recorder collects the notices a store delivers, safe for the listener's
// goroutine.
type recorder struct {
	mu   sync.Mutex
	got  []string // kind + " " + payload
	lost int
}

// Record subscribes r to kinds of s and to its losses.
func (r *recorder) Record(tb testing.TB, s lanyard.Store, kinds ...lanyard.NoticeKind) {
	for _, k := range kinds {
		cancel := s.Notices().Subscribe(k, func(p string) {
			r.mu.Lock()
			r.got = append(r.got, string(k)+" "+p)
			r.mu.Unlock()
		})
		tb.Cleanup(cancel)
	}
	tb.Cleanup(s.Notices().OnLost(func() {
		r.mu.Lock()
		r.lost++
		r.mu.Unlock()
	}))
}

func (r *recorder) notices() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func (r *recorder) losses() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testNotices: a notice sent in a transaction is delivered to the
// store's own subscribers once the transaction committed — not before,
// not after a rollback or a failed statement, once however often it was
// sent — and a View cannot send one.
func testNotices(t *testing.T, s lanyard.Store) {
	var r recorder
	r.Record(t, s, lanyard.NoticeCache, lanyard.NoticeUser)
	lostBefore := r.losses() // PostgreSQL: the listener's first connection counts as one

	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, p := range []string{"templates", "policies", "templates"} {
			if err := tx.Notify(lanyard.NoticeCache, p); err != nil {
				return err
			}
		}
		if err := lanyard.NotifyIDs(tx, lanyard.NoticeUser, 7, 8); err != nil {
			return err
		}
		if got := r.notices(); len(got) != 0 {
			t.Errorf("delivered before the commit: %q", got)
		}
		return tx.CreateUser(NewUser("noticed"))
	})
	// Delivered by the time Update returns, each once, in order.
	equal(t, "notices after commit", r.notices(), []string{"cache templates", "cache policies", "user 7,8"})

	// Rolled back: nothing.
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		if err := tx.Notify(lanyard.NoticeCache, "rolled-back"); err != nil {
			return err
		}
		return errors.New("changed my mind")
	})
	if err == nil {
		t.Fatal("Update returned no error")
	}
	// A statement failed, fn ignored it: the commit fails, nothing.
	MustCreateUser(t, s, "taken-n")
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		if err := tx.Notify(lanyard.NoticeCache, "poisoned"); err != nil {
			return err
		}
		_ = tx.CreateUser(NewUser("taken-n"))
		return nil
	})
	wantCode(t, "Update after an ignored conflict", err, lanyard.EConflict)
	equal(t, "notices after rollbacks", len(r.notices()), 3)

	// View cannot send.
	MustView(t, s, func(tx lanyard.Tx) error {
		wantCode(t, "Notify in View", tx.Notify(lanyard.NoticeCache, "x"), lanyard.EInternal)
		return nil
	})
	// Bugs are errors.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		wantCode(t, "Notify with a bad kind", tx.Notify("Not Valid", "x"), lanyard.EInternal)
		wantCode(t, "Notify with NUL", tx.Notify(lanyard.NoticeCache, "a\x00"), lanyard.EInternal)
		return nil
	})
	// Too large to send: every subscriber purges everything instead.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		return tx.Notify(lanyard.NoticeCache, strings.Repeat("x", lanyard.MaxNoticePayload+1))
	})
	equal(t, "losses after an oversized notice", r.losses(), lostBefore+1)
	equal(t, "notices after an oversized one", len(r.notices()), 3)
}

// NoticesAcrossReplicas checks notices between stores: a and b are two
// replicas on one database and schema, other a store of another cluster
// (another schema of the same database). A notice committed on a reaches
// b (and a, once); a rolled-back one reaches nobody; none crosses to
// other. Notices travel asynchronously: this polls with a deadline.
func NoticesAcrossReplicas(t *testing.T, a, b, other lanyard.Store) {
	var ra, rb, ro recorder
	ra.Record(t, a, lanyard.NoticeCache)
	rb.Record(t, b, lanyard.NoticeCache)
	ro.Record(t, other, lanyard.NoticeCache)

	notify := func(s lanyard.Store, payload string, commit bool) {
		t.Helper()
		err := s.Update(t.Context(), func(tx lanyard.Tx) error {
			if err := tx.Notify(lanyard.NoticeCache, payload); err != nil {
				return err
			}
			if !commit {
				return errors.New("roll back")
			}
			return nil
		})
		if commit && err != nil {
			t.Fatal(err)
		}
	}
	notify(a, "rolled-back", false)
	notify(a, "from-a", true)
	waitFor(t, "b to hear a's notice", func() bool { return slices.Contains(rb.notices(), "cache from-a") })
	// PostgreSQL's notification queue is one ordered queue per database:
	// a listener that heard a later notice has read every earlier one.
	notify(b, "from-b", true)
	waitFor(t, "a to hear b's notice", func() bool { return slices.Contains(ra.notices(), "cache from-b") })
	equal(t, "a's notices", ra.notices(), []string{"cache from-a", "cache from-b"})
	equal(t, "b's notices", rb.notices(), []string{"cache from-a", "cache from-b"})
	notify(other, "from-other", true)
	waitFor(t, "other's own notice", func() bool { return len(ro.notices()) > 0 })
	equal(t, "the other cluster's notices", ro.notices(), []string{"cache from-other"})
	notify(b, "last", true)
	waitFor(t, "a to hear b's last notice", func() bool { return slices.Contains(ra.notices(), "cache last") })
	equal(t, "a's notices at the end", ra.notices(), []string{"cache from-a", "cache from-b", "cache last"})
}
