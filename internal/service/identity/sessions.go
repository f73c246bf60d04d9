package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const (
	// SessionTTL is how long a browser login lasts.
	SessionTTL = 12 * time.Hour
	// LoginChallengeTTL is how long a login waits between the password
	// and the second factor: long enough to find the phone (or to set up
	// the app), short enough that the pending state is worth little.
	LoginChallengeTTL = 5 * time.Minute
)

// The second factor a login asks for after the password.
const (
	// SecondFactorCode: a code from the confirmed authenticator app.
	SecondFactorCode = "code"
	// SecondFactorEnroll: a staff account without an authenticator app
	// sets one up now (QR code or typed-in key) and confirms it with its
	// first code, which also completes the login.
	SecondFactorEnroll = "enroll"
)

// msgBadLogin answers every failed password check of a login.
const msgBadLogin = "wrong login or password"

// LoginResult is what a login step gives: either a session (SessionID,
// Session) or, when a second factor is due, a challenge (ChallengeID,
// Challenge, SecondFactor, and Setup for an enrollment).
type LoginResult struct {
	User      *lanyard.User
	SessionID string // the session cookie's secret
	Session   *lanyard.Session

	ChallengeID  string // the login cookie's secret, for the second step only
	Challenge    *lanyard.LoginChallenge
	SecondFactor string     // SecondFactorCode or SecondFactorEnroll
	Setup        *TOTPSetup // the new authenticator app (SecondFactorEnroll)
}

// Login checks a password under the login throttle (LoginThrottleKeys:
// one key per account, one per client address). The attempt is counted
// before the password is hashed, so parallel guesses cannot all run, and
// every failure looks the same.
//
// Who needs a second factor (secondFactorFor): staff accounts always, and
// any user who set up an authenticator app (they opted in, and expect it
// to protect the account). Then no session is made yet: the result is a
// challenge that CompleteLogin finishes with a code. A staff account
// without a confirmed app gets a new enrollment with the challenge.
//
// A password longer than auth.MaxPasswordInput is never right (none that
// long is set): it gets the wrong password's answer at once, neither
// hashed nor counted, so that it costs the server nothing.
func (s *Identity) Login(ctx context.Context, login, password, remote string) (*LoginResult, error) {
	if len(password) > auth.MaxPasswordInput {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, msgBadLogin)
	}
	att, err := s.beginAttempt(ctx, LoginThrottleKeys(login, remote))
	if err != nil {
		return nil, err
	}
	defer att.Release()
	u, err := s.checkPassword(ctx, login, password, remote)
	if err != nil {
		if lanyard.IsCode(err, lanyard.EUnauthenticated) {
			att.Fail()
		}
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if mode := secondFactorFor(u, e); mode != "" {
		// The password alone clears nothing: the attempt is released, not
		// counted as a success, until the second factor is right too.
		return s.challenge(ctx, u, mode, e, remote)
	}
	res, err := s.openSession(ctx, u, remote, nil, nil)
	if err != nil {
		return nil, err
	}
	att.Succeed()
	return res, nil
}

// checkPassword returns login's user if password is theirs. Unknown
// logins, accounts without a password and disabled accounts spend the
// same time and get the same answer as a wrong password.
func (s *Identity) checkPassword(ctx context.Context, login, password, remote string) (*lanyard.User, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, msgBadLogin)
	var u *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, err
	}
	if u != nil && s.fromDirectory(u) {
		return s.checkDirectoryPassword(ctx, u, password, remote)
	}
	hash := dummyHash
	if u != nil && u.PasswordHash != "" && !u.Disabled {
		hash = u.PasswordHash
	}
	ok, err := auth.VerifyPassword(ctx, hash, password)
	if errors.Is(err, auth.ErrBusy) {
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the server is busy checking other logins; try again")
	}
	if err == nil && ok && hash != dummyHash {
		return u, nil
	}
	if u != nil {
		_ = s.rec.Update(ctx, func() *lanyard.AuditEvent {
			return s.rec.Event(&lanyard.Principal{User: u, RemoteAddr: remote}, "session.login_failed", "user", u.Login, nil)
		}, func(lanyard.Tx) error { return nil })
	}
	return nil, bad
}

// fromDirectory reports whether u's password is their directory's: an
// enabled directory (SourceLDAP) account, when a directory checker is
// configured. A directory account has no local password; were one set,
// it is ignored: the directory alone decides (a person disabled there is
// refused at once, before the next sync).
func (s *Identity) fromDirectory(u *lanyard.User) bool {
	return u.Source == lanyard.SourceLDAP && !u.Disabled && s.directories != nil
}

// checkDirectoryPassword checks u's password by a bind to their
// directory (Directories). A wrong password is answered and audited as
// a local one is (the caller's throttle counts it); an unreachable
// directory is EUnavailable ("the directory is unreachable"), not a
// wrong password, and is not counted; an account disabled in the
// directory since the last sync is refused.
func (s *Identity) checkDirectoryPassword(ctx context.Context, u *lanyard.User, password, remote string) (*lanyard.User, error) {
	err := s.directories.Authenticate(ctx, u, password)
	if err == nil {
		return u, nil
	}
	if lanyard.IsCode(err, lanyard.EUnauthenticated) || lanyard.IsCode(err, lanyard.EForbidden) {
		_ = s.rec.Update(ctx, func() *lanyard.AuditEvent {
			return s.rec.Event(&lanyard.Principal{User: u, RemoteAddr: remote}, "session.login_failed", "user", u.Login,
				map[string]any{"directory": true, "reason": lanyard.ErrorMessage(err)})
		}, func(lanyard.Tx) error { return nil })
	}
	if lanyard.IsCode(err, lanyard.EUnauthenticated) {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, msgBadLogin)
	}
	return nil, err
}

// secondFactorFor says which second factor u's login needs after the
// password: a code when an authenticator app is confirmed, an enrollment
// for staff without one, none for other users without one.
func secondFactorFor(u *lanyard.User, e *lanyard.TOTPEnrollment) string {
	switch {
	case e.Confirmed():
		return SecondFactorCode
	case u.Roles.Staff():
		return SecondFactorEnroll
	}
	return ""
}

// challenge stores a login challenge for u bound to its mode and to the
// enrollment it accepts: for SecondFactorCode the confirmed app e, for
// SecondFactorEnroll a new unconfirmed app, which replaces an unconfirmed
// one. A new enrollment also deletes u's other login challenges: they
// were made for an app that no longer exists, and whoever holds one (a
// login with a stolen password) must not reach the new app's secret or
// complete a login with it. One transaction with its audit event.
func (s *Identity) challenge(ctx context.Context, u *lanyard.User, mode string, e *lanyard.TOTPEnrollment, remote string) (*LoginResult, error) {
	id, hash, err := auth.NewSessionID(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a login")
	}
	now := s.rec.Clock()
	res := &LoginResult{User: u, ChallengeID: id, SecondFactor: mode}
	enroll := mode == SecondFactorEnroll
	if enroll {
		if res.Setup, e, err = s.newTOTPEnrollment(u); err != nil {
			return nil, err
		}
	}
	res.Challenge = &lanyard.LoginChallenge{Hash: hash, UserID: u.ID, Mode: mode, Enrollment: enrollmentID(e),
		CreatedAt: now, ExpiresAt: now.Add(LoginChallengeTTL)}
	p := &lanyard.Principal{User: u, Roles: u.Roles, RemoteAddr: remote}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "session.second_factor", "user", u.Login, map[string]any{"second_factor": mode})
	}, func(tx lanyard.Tx) error {
		if enroll {
			if _, err := tx.DeleteUserLoginChallenges(u.ID); err != nil {
				return err
			}
			if _, err := putTOTPEnrollment(tx, e); err != nil {
				return err
			}
		}
		return tx.CreateLoginChallenge(res.Challenge)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// CompleteLogin is a login's second step: challengeID is the login
// cookie's secret from Login, code the authenticator app's code. Only
// the enrollment the challenge was made for counts (challengeEnrollment):
// the confirmed app for a code, the app Login set up for an enrollment,
// whose first code confirms it. Wrong
// and replayed codes count in the login throttle like wrong passwords; the
// challenge stays until it expires, so a mistyped code can be entered
// again. On success the challenge is used up and the session records when
// the second factor was verified, all in one transaction.
func (s *Identity) CompleteLogin(ctx context.Context, challengeID, code, remote string) (*LoginResult, error) {
	c, u, err := s.loginChallenge(ctx, challengeID)
	if err != nil {
		return nil, err
	}
	chk, err := s.checkCode(ctx, u, remote, code, func(e *lanyard.TOTPEnrollment) error { return challengeEnrollment(c, e) })
	if err != nil {
		if lanyard.IsCode(err, lanyard.EStepUpFailed) {
			_ = s.rec.Update(ctx, func() *lanyard.AuditEvent {
				return s.rec.Event(&lanyard.Principal{User: u, RemoteAddr: remote}, "session.login_failed", "user", u.Login,
					map[string]any{"second_factor": true})
			}, func(lanyard.Tx) error { return nil })
			return nil, lanyard.Errorf(lanyard.EUnauthenticated, "%s", lanyard.ErrorMessage(err))
		}
		return nil, err
	}
	defer chk.att.Release()
	res, err := s.openSession(ctx, u, remote, chk, c)
	if err != nil {
		return nil, err
	}
	chk.att.Succeed()
	return res, nil
}

// loginChallenge resolves a login cookie's secret to its challenge and
// user; expired, unknown and disabled look the same.
func (s *Identity) loginChallenge(ctx context.Context, challengeID string) (*lanyard.LoginChallenge, *lanyard.User, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "this login has expired; enter your login and password again")
	if challengeID == "" {
		return nil, nil, bad
	}
	var c *lanyard.LoginChallenge
	var u *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if c, err = tx.LoginChallengeByHash(auth.HashToken(challengeID)); err != nil {
			return err
		}
		u, err = tx.UserByID(c.UserID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || !s.rec.Clock().Before(c.ExpiresAt) {
		return nil, nil, bad
	}
	return c, u, nil
}

// LoginEnrollment returns the authenticator app setup of a login waiting
// for its enrollment (the QR code image of the login page): the app that
// login set up, never one set up later (by another login of the same
// account, which may be its owner's while this one is an attacker's).
// ENotFound when the login waits for a code instead, or its app was
// replaced or confirmed meanwhile.
func (s *Identity) LoginEnrollment(ctx context.Context, challengeID string) (*TOTPSetup, error) {
	c, u, err := s.loginChallenge(ctx, challengeID)
	if err != nil {
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if c.Mode != SecondFactorEnroll || challengeEnrollment(c, e) != nil {
		return nil, lanyard.Errorf(lanyard.ENotFound, "this login does not set up an authenticator app; enter the code your app shows")
	}
	secret, err := s.openTOTP(e)
	if err != nil {
		return nil, err
	}
	return totpSetup(u.Login, secret)
}

// enrollmentID identifies an authenticator app enrollment: the SHA-256
// of its sealed secret, which is new for every enrollment (a fresh
// secret, sealed with a fresh nonce). Nil for none.
func enrollmentID(e *lanyard.TOTPEnrollment) []byte {
	if e == nil {
		return nil
	}
	h := sha256.Sum256(e.SealedSecret)
	return h[:]
}

// challengeEnrollment refuses e (u's enrollment now) unless it is the one
// login challenge c was made for, in the state c's mode expects: a code
// challenge takes only the confirmed app it was made for, an enrollment
// challenge only the unconfirmed app it set up.
func challengeEnrollment(c *lanyard.LoginChallenge, e *lanyard.TOTPEnrollment) error {
	if e == nil || subtle.ConstantTimeCompare(enrollmentID(e), c.Enrollment) != 1 ||
		e.Confirmed() != (c.Mode == SecondFactorCode) {
		return lanyard.Errorf(lanyard.EUnauthenticated, "the authenticator app changed since this login began; enter your login and password again")
	}
	return nil
}

// openSession creates u's session, in one transaction with its audit
// event. With chk (a checked code) it records the code's step, the
// session's second factor time and, for a new app, its confirmation;
// with c it uses up the login challenge.
func (s *Identity) openSession(ctx context.Context, u *lanyard.User, remote string, chk *codeCheck, c *lanyard.LoginChallenge) (*LoginResult, error) {
	return s.openSessionWith(ctx, u, remote, chk, c, nil, nil)
}

// openSessionWith is openSession for the sign-ins that bring their own
// proof. With card (a card sign-in, cardlogin.go) it records the card as
// the session's second factor after checking the card again in the
// transaction. With ext (a sign-in at an external identity provider,
// external.go) its audit event names the provider, and a second factor
// the provider asserted counts as the session's second factor.
func (s *Identity) openSessionWith(ctx context.Context, u *lanyard.User, remote string, chk *codeCheck, c *lanyard.LoginChallenge, card *cardCredential, ext *ExternalAuth) (*LoginResult, error) {
	sessionID, hash, err := auth.NewSessionID(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	csrf, err := auth.NewCSRFToken(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	now := s.rec.Clock()
	sess := &lanyard.Session{Hash: hash, UserID: u.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	details := map[string]any{"second_factor": chk != nil || card != nil}
	if chk != nil {
		sess.SecondFactorAt = now
		details["enrolled"] = !chk.e.Confirmed()
	}
	if card != nil {
		sess.SecondFactorAt = now
		details["method"], details["ca"], details["serial"], details["card_id"] = "card", card.cert.CA, card.cert.Serial, card.card.ID
	}
	if ext != nil {
		details["method"], details["provider"] = ext.Method, ext.Provider
		if ext.SecondFactor != "" {
			sess.SecondFactorAt = now
			if !ext.SecondFactorAt.IsZero() && ext.SecondFactorAt.Before(now) {
				sess.SecondFactorAt = ext.SecondFactorAt
			}
			details["second_factor"], details["provider_second_factor"] = true, ext.SecondFactor
		}
	}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(&lanyard.Principal{User: u, RemoteAddr: remote}, "session.login", "user", u.Login, details)
	}, func(tx lanyard.Tx) error {
		if c != nil {
			err := tx.DeleteLoginChallenge(c.Hash)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				return lanyard.Errorf(lanyard.EUnauthenticated, "this login was completed or has expired; enter your login and password again")
			}
			if err != nil {
				return err
			}
		}
		if chk != nil {
			if err := chk.record(tx, now); err != nil {
				return err
			}
		}
		if card != nil {
			if err := stillUsable(tx, card, now); err != nil {
				return err
			}
		}
		return tx.CreateSession(sess)
	})
	if err != nil {
		return nil, err
	}
	return &LoginResult{User: u, SessionID: sessionID, Session: sess}, nil
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
// session (whose CSRF token the caller checks on unsafe requests). A
// staff account's session without a second factor is refused: it was
// made before staff needed one, or before the account became staff.
func (s *Identity) AuthenticateSession(ctx context.Context, sessionID, remote string) (*lanyard.Principal, *lanyard.Session, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "your session has expired; log in again")
	var sess *lanyard.Session
	var u *lanyard.User
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
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
	if u.Disabled || !s.rec.Clock().Before(sess.ExpiresAt) {
		return nil, nil, bad
	}
	if u.Roles.Staff() && sess.SecondFactorAt.IsZero() {
		return nil, nil, lanyard.Errorf(lanyard.EUnauthenticated, "staff accounts sign in with their authenticator app; log in again")
	}
	return &lanyard.Principal{User: u, Roles: u.Roles, RemoteAddr: remote, Session: true, SecondFactorAt: sess.SecondFactorAt}, sess, nil
}

// Logout ends a session.
func (s *Identity) Logout(ctx context.Context, p *lanyard.Principal, sessionID string) error {
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "session.logout", "user", p.User.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.DeleteSession(auth.HashToken(sessionID)) })
}

// endSessions ends userID's browser sessions and pending logins, and says
// how many sessions there were.
func endSessions(tx lanyard.SessionStore, userID int64) (int, error) {
	if _, err := tx.DeleteUserLoginChallenges(userID); err != nil {
		return 0, err
	}
	return tx.DeleteUserSessions(userID)
}

// PurgeSessions deletes expired sessions and login challenges (run on a
// schedule).
func (s *Identity) PurgeSessions(ctx context.Context) (int, error) {
	var n int
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredSessions(s.rec.Clock()); return })
	return n, err
}
