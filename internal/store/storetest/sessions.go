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
	s2.SecondFactorAt = at(time.Minute)
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
		wantTime(t, "SecondFactorAt", got.SecondFactorAt, at(time.Minute))
		got, err = tx.SessionByHash([]byte("one"))
		if err != nil {
			return err
		}
		if !got.SecondFactorAt.IsZero() {
			t.Errorf("a password-only session has SecondFactorAt %v", got.SecondFactorAt)
		}
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

// testLoginChallenges: a login between password and second factor is
// created, read, deleted once, purged with the expired sessions, and goes
// with its user.
func testLoginChallenges(t *testing.T, s lanyard.Store) {
	olga := MustCreateUser(t, s, "olga")
	mk := func(hash string, expires time.Duration) *lanyard.LoginChallenge {
		return &lanyard.LoginChallenge{Hash: []byte(hash), UserID: olga.ID, Mode: "code", Enrollment: []byte("e-" + hash), CreatedAt: t0, ExpiresAt: at(expires)}
	}
	c1, c2 := mk("c-one", time.Minute), mk("c-two", 5*time.Minute)
	c2.Mode = "enroll"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateLoginChallenge(c1); err != nil {
			return err
		}
		return tx.CreateLoginChallenge(c2)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.LoginChallengeByHash([]byte("c-two"))
		if err != nil {
			return err
		}
		equal(t, "LoginChallengeByHash", got, c2)
		wantTime(t, "ExpiresAt", got.ExpiresAt, at(5*time.Minute))
		_, err = tx.LoginChallengeByHash([]byte("nope"))
		wantCode(t, "LoginChallengeByHash unknown", err, lanyard.ENotFound)
		// A challenge is not a session.
		_, err = tx.SessionByHash([]byte("c-two"))
		wantCode(t, "a challenge as a session", err, lanyard.ENotFound)
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateLoginChallenge(mk("c-one", time.Minute)) })
	wantCode(t, "CreateLoginChallenge duplicate", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateLoginChallenge(&lanyard.LoginChallenge{Hash: []byte("orphan"), UserID: 999_999, Mode: "code", Enrollment: []byte("e"), CreatedAt: t0, ExpiresAt: t0})
	})
	wantCode(t, "CreateLoginChallenge for a missing user", err, lanyard.EInvalid)

	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(at(time.Minute)); return })
	if n != 1 {
		t.Errorf("DeleteExpiredSessions = %d, want the 1 expired challenge", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.LoginChallengeByHash([]byte("c-one"))
		wantCode(t, "expired challenge", err, lanyard.ENotFound)
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteLoginChallenge([]byte("c-two")) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteLoginChallenge([]byte("c-two")) })
	wantCode(t, "DeleteLoginChallenge twice", err, lanyard.ENotFound)
}

// testUserLoginChallenges: DeleteUserLoginChallenges deletes one user's
// pending logins, not another's (ending a user's credentials, a reset of
// the authenticator app, a new enrollment).
func testUserLoginChallenges(t *testing.T, s lanyard.Store) {
	olga, otto := MustCreateUser(t, s, "olga"), MustCreateUser(t, s, "otto")
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, u := range []*lanyard.User{olga, olga, otto} {
			c := &lanyard.LoginChallenge{Hash: []byte{byte(i)}, UserID: u.ID, Mode: "code", Enrollment: []byte("e"), CreatedAt: t0, ExpiresAt: at(time.Minute)}
			if err := tx.CreateLoginChallenge(c); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteUserLoginChallenges(olga.ID); return })
	if n != 2 {
		t.Errorf("DeleteUserLoginChallenges = %d, want 2", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for i := range 2 {
			_, err := tx.LoginChallengeByHash([]byte{byte(i)})
			wantCode(t, "olga's challenge", err, lanyard.ENotFound)
		}
		_, err := tx.LoginChallengeByHash([]byte{2})
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteUserLoginChallenges(olga.ID); return })
	if n != 0 {
		t.Errorf("second DeleteUserLoginChallenges = %d, want 0", n)
	}
}
