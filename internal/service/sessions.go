package service

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// SessionTTL is how long a browser login lasts.
const SessionTTL = 12 * time.Hour

// Login checks a password and opens a browser session. Throttling is the
// caller's (internal/web) job because it knows the client address; here
// every failure looks the same.
func (s *Service) Login(ctx context.Context, login, password, remote string) (sessionID string, sess *lanyard.Session, u *lanyard.User, err error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "wrong login or password")
	err = s.view(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		// Spend the same time as a real check so that timing does not
		// reveal which logins exist.
		auth.VerifyPassword(ctx, dummyHash, password)
		return "", nil, nil, bad
	}
	if err != nil {
		return "", nil, nil, err
	}
	if u.PasswordHash == "" || u.Disabled {
		auth.VerifyPassword(ctx, dummyHash, password)
		return "", nil, nil, bad
	}
	ok, verr := auth.VerifyPassword(ctx, u.PasswordHash, password)
	if verr != nil || !ok {
		_ = s.update(ctx, func() *lanyard.AuditEvent {
			return s.event(&Principal{User: u, RemoteAddr: remote}, "session.login_failed", "user", u.Login, nil)
		}, func(lanyard.Tx) error { return nil })
		return "", nil, nil, bad
	}
	sessionID, hash, err := auth.NewSessionID(s.rand)
	if err != nil {
		return "", nil, nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	csrf, err := auth.NewCSRFToken(s.rand)
	if err != nil {
		return "", nil, nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	now := s.clock()
	sess = &lanyard.Session{Hash: hash, UserID: u.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	err = s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(&Principal{User: u, RemoteAddr: remote}, "session.login", "user", u.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.CreateSession(sess) })
	if err != nil {
		return "", nil, nil, err
	}
	return sessionID, sess, u, nil
}

// dummyHash is a valid argon2id hash of a random password, verified when
// a login does not exist.
var dummyHash = func() string {
	h, err := auth.HashPassword(context.Background(), "not a real password, only for timing", rand.Reader)
	if err != nil {
		panic(err)
	}
	return h
}()

// AuthenticateSession resolves a session cookie to a principal and the
// session (whose CSRF token the caller checks on unsafe requests).
func (s *Service) AuthenticateSession(ctx context.Context, sessionID, remote string) (*Principal, *lanyard.Session, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "your session has expired; log in again")
	var sess *lanyard.Session
	var u *lanyard.User
	err := s.view(ctx, func(tx lanyard.Tx) error {
		var err error
		if sess, err = tx.SessionByHash(auth.HashToken(sessionID)); err != nil {
			return err
		}
		u, err = tx.UserByID(sess.UserID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || !s.clock().Before(sess.ExpiresAt) {
		return nil, nil, bad
	}
	return &Principal{User: u, Roles: u.Roles, RemoteAddr: remote}, sess, nil
}

// Logout ends a session.
func (s *Service) Logout(ctx context.Context, p *Principal, sessionID string) error {
	return s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "session.logout", "user", p.User.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.DeleteSession(auth.HashToken(sessionID)) })
}

// PurgeSessions deletes expired sessions (run on a schedule).
func (s *Service) PurgeSessions(ctx context.Context) (int, error) {
	var n int
	err := s.store.Update(ctx, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(s.clock()); return })
	return n, err
}
