package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testSecretLocks: a user's wrong-answer count starts at zero; each
// AddSecretFailure adds one, also from parallel transactions, and the one
// that reaches the limit locks at its time, which later failures keep;
// SetSecretLock clears both. Unknown users are ENotFound.
func testSecretLocks(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	read := func() lanyard.SecretLock {
		var l lanyard.SecretLock
		MustView(t, s, func(tx lanyard.Tx) (err error) { l, err = tx.SecretLock(alice.ID); return })
		return l
	}
	if l := read(); l != (lanyard.SecretLock{}) {
		t.Fatalf("new user: %+v", l)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.AddSecretFailure(alice.ID, 5, t0); return err }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if l := read(); l.Failures != 4 || l.Locked() {
		t.Fatalf("after 4 parallel failures: %+v", l)
	}
	var l lanyard.SecretLock
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		l, err = tx.AddSecretFailure(alice.ID, 5, t0.Add(time.Minute))
		return
	})
	if l.Failures != 5 || !l.LockedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("the fifth failure: %+v, want locked at %v", l, t0.Add(time.Minute))
	}
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { l, err = tx.AddSecretFailure(alice.ID, 5, t0.Add(time.Hour)); return })
	if got := read(); got != l || got.Failures != 6 || !got.LockedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("a failure while locked: %+v (read %+v), want the first lock time kept", l, got)
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.SetSecretLock(alice.ID, lanyard.SecretLock{}) })
	if l := read(); l != (lanyard.SecretLock{}) {
		t.Fatalf("cleared: %+v", l)
	}
	testReturnSecretFailure(t, s, alice.ID, t0)
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.AddSecretFailure(999_999, 5, t0); return err })
	wantCode(t, "AddSecretFailure missing user", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetSecretLock(999_999, lanyard.SecretLock{Failures: 1}) })
	wantCode(t, "SetSecretLock missing user", err, lanyard.ENotFound)
	err = s.View(t.Context(), func(tx lanyard.Tx) error { _, err := tx.SecretLock(999_999); return err })
	wantCode(t, "SecretLock missing user", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.ReturnSecretFailure(999_999, time.Time{}); return err })
	wantCode(t, "ReturnSecretFailure missing user", err, lanyard.ENotFound)
}

// testReturnSecretFailure: ReturnSecretFailure takes back one count,
// never below zero, and lifts a lock only when given the time it was set
// at (the attempt that set it is the one given back). userID's count
// starts and ends at zero.
func testReturnSecretFailure(t *testing.T, s lanyard.Store, userID int64, t0 time.Time) {
	t.Helper()
	var l lanyard.SecretLock
	add := func(at time.Time) {
		MustUpdate(t, s, func(tx lanyard.Tx) (err error) { l, err = tx.AddSecretFailure(userID, 2, at); return })
	}
	give := func(lockedAt time.Time) {
		MustUpdate(t, s, func(tx lanyard.Tx) (err error) { l, err = tx.ReturnSecretFailure(userID, lockedAt); return })
	}
	add(t0)
	add(t0.Add(time.Second)) // locks at t0+1s
	give(t0)                 // another time: the lock stays
	if l.Failures != 1 || !l.LockedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("returned with another lock time: %+v, want 1 and the lock kept", l)
	}
	add(t0.Add(time.Minute))
	give(t0.Add(time.Second))
	if l.Failures != 1 || l.Locked() {
		t.Fatalf("returned with the lock's time: %+v, want 1 and unlocked", l)
	}
	give(time.Time{})
	give(time.Time{})
	if l != (lanyard.SecretLock{}) {
		t.Fatalf("returned below zero: %+v", l)
	}
}

// testRSSSessions: Remote Self-Service sessions are found by their hash
// only in their own table — never as browser sessions, nor browser
// sessions as them — and go with the user's sessions and when expired.
func testRSSSessions(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	rss := &lanyard.Session{Hash: []byte("rss-hash-0123456789abcdef0123456"), UserID: alice.ID, CSRFToken: "c1", CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
	web := &lanyard.Session{Hash: []byte("web-hash-0123456789abcdef0123456"), UserID: alice.ID, CSRFToken: "c2", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateRSSSession(rss); err != nil {
			return err
		}
		return tx.CreateSession(web)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.RSSSessionByHash(rss.Hash)
		if err != nil {
			return err
		}
		equal(t, "RSS session", got, rss)
		_, err = tx.SessionByHash(rss.Hash)
		wantCode(t, "an RSS session as a browser session", err, lanyard.ENotFound)
		_, err = tx.RSSSessionByHash(web.Hash)
		wantCode(t, "a browser session as an RSS session", err, lanyard.ENotFound)
		return nil
	})
	// Expired RSS sessions go with the expired sessions.
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(t0.Add(10 * time.Minute)); return })
	if n != 1 {
		t.Errorf("DeleteExpiredSessions at the RSS session's expiry: %d, want 1", n)
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error { rss.ExpiresAt = t0.Add(time.Hour); return tx.CreateRSSSession(rss) })
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteUserSessions(alice.ID); return })
	if n != 2 {
		t.Errorf("DeleteUserSessions: %d, want the browser and the RSS session", n)
	}
	// DeleteUserRSSSessions ends the RSS sessions only.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateRSSSession(rss); err != nil {
			return err
		}
		return tx.CreateSession(web)
	})
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteUserRSSSessions(alice.ID); return })
	if n != 1 {
		t.Errorf("DeleteUserRSSSessions: %d, want the RSS session", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.RSSSessionByHash(rss.Hash)
		wantCode(t, "an RSS session after DeleteUserRSSSessions", err, lanyard.ENotFound)
		_, err = tx.SessionByHash(web.Hash)
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateRSSSession(rss) })
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteRSSSession(rss.Hash) })
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteRSSSession(rss.Hash) })
	wantCode(t, "DeleteRSSSession twice", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateRSSSession(&lanyard.Session{Hash: []byte("x"), UserID: 999_999, CreatedAt: t0, ExpiresAt: t0})
	})
	wantCode(t, "CreateRSSSession missing user", err, lanyard.EInvalid)
}
