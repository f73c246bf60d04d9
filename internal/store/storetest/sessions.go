package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testSessions(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	mk := func(hash string, expires time.Duration) *lanyard.Session {
		return &lanyard.Session{Hash: []byte(hash), UserID: alice.ID, CSRFToken: "csrf-" + hash, CreatedAt: t0, ExpiresAt: at(expires)}
	}
	s1, s2, s3 := mk("one", time.Hour), mk("two", 2*time.Hour), mk("three", 3*time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, x := range []*lanyard.Session{s1, s2, s3} {
			if err := tx.CreateSession(x); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.SessionByHash([]byte("two"))
		if err != nil {
			return err
		}
		equal(t, "SessionByHash", got, s2)
		wantTime(t, "ExpiresAt", got.ExpiresAt, at(2*time.Hour))
		_, err = tx.SessionByHash([]byte("nope"))
		wantCode(t, "SessionByHash unknown", err, lanyard.ENotFound)
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateSession(mk("one", time.Hour)) })
	wantCode(t, "CreateSession duplicate", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateSession(&lanyard.Session{Hash: []byte("orphan"), UserID: 999_999, CreatedAt: t0, ExpiresAt: t0})
	})
	wantCode(t, "CreateSession for a missing user", err, lanyard.EInvalid)

	// A session whose expiry time has been reached is expired: s2 expires
	// exactly at the cut-off and goes too.
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(at(2 * time.Hour)); return })
	if n != 2 {
		t.Errorf("DeleteExpiredSessions = %d, want 2", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, h := range []string{"one", "two"} {
			_, err := tx.SessionByHash([]byte(h))
			wantCode(t, "expired session "+h, err, lanyard.ENotFound)
		}
		_, err := tx.SessionByHash([]byte("three"))
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(at(2 * time.Hour)); return })
	if n != 0 {
		t.Errorf("second DeleteExpiredSessions = %d, want 0", n)
	}

	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteSession([]byte("three")) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteSession([]byte("three")) })
	wantCode(t, "DeleteSession twice", err, lanyard.ENotFound)
}
