package identity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Remote Self-Service (/rss/, docs/lifecycle.md) lets a user who cannot
// sign in — PIN blocked, card lost, no password at hand — prove who they
// are with their secret answers alone, and do the little that helps then
// (cardperm: urgent disable, the offline unblock response). It never says
// whether a user name exists: an unknown user, a user without answers and
// a locked user are asked plausible questions and get the same refusal as
// wrong answers.

const (
	// RSSSessionTTL is how long a Remote Self-Service session lasts: long
	// enough to disable a card or read a response code to the workstation,
	// short enough that a forgotten browser tab is worth little.
	RSSSessionTTL = 10 * time.Minute
	// RSSTicketTTL is how long the questions asked stay answerable.
	RSSTicketTTL = 5 * time.Minute
)

// msgRSSRefused answers every failed Remote Self-Service sign-in.
const msgRSSRefused = "the user name or the answers are wrong, or the answers are locked after too many wrong answers; if this goes on, call the help desk"

// rssTicketAAD binds sealed tickets to their use.
var rssTicketAAD = []byte("lanyard rss ticket v1")

// rssDecoySetting names the key that picks the questions shown for
// unknown user names (sealed, made on first use).
const rssDecoySetting = "rss.decoy_key"

// RSSQuestions are the questions a Remote Self-Service sign-in asks, and
// the ticket that binds the answers to them.
type RSSQuestions struct {
	Questions []string
	Ticket    string
	ExpiresAt time.Time
}

// rssTicket is what a ticket seals: who was asked what, until when.
type rssTicket struct {
	Login     string   `json:"l"`
	Questions []string `json:"q"`
	Expires   int64    `json:"e"`
}

// RSSQuestionsFor picks the questions a Remote Self-Service sign-in as
// login asks: the policy's number asked, at random among those the user
// answered. For a login that does not exist or has no answers, the
// questions come from the policy that would apply to it, chosen by a
// keyed hash of the login so that asking again shows the same ones, as
// it does for a user who answered exactly the number asked.
func (s *Identity) RSSQuestionsFor(ctx context.Context, login string) (*RSSQuestions, error) {
	if !lanyard.ValidLogin(login) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "enter your user name")
	}
	st, err := s.readSecretState(ctx, 0, login)
	if err != nil && !st.notFound {
		return nil, err
	}
	var qs []string
	if len(st.answers) >= st.set.Asked && st.set.Asked > 0 {
		// Asked like a decoy (decoyQuestions): the same questions on
		// every ask, in the policy's order, so that neither the order
		// nor a new draw on asking again tells a real user from an
		// unknown name, and asking again does not re-roll until the
		// questions someone knows come up.
		chosen := make([]string, len(st.answers))
		for i, a := range st.answers {
			chosen[i] = a.Question
		}
		slices.SortStableFunc(chosen, func(a, b string) int {
			return policyIndex(st.set.Questions, a) - policyIndex(st.set.Questions, b)
		})
		r, err := s.loginRand(ctx, login)
		if err != nil {
			return nil, err
		}
		qs = pickQuestions(chosen, st.set.Asked, r)
	} else if qs, err = s.decoyQuestions(ctx, login, st); err != nil {
		return nil, err
	}
	exp := s.rec.Clock().Add(RSSTicketTTL)
	raw, err := json.Marshal(rssTicket{Login: login, Questions: qs, Expires: exp.UnixMicro()})
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "making the questions failed")
	}
	sealed, err := s.sealer.Seal(raw, rssTicketAAD)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "making the questions failed")
	}
	return &RSSQuestions{Questions: qs, Ticket: base64.RawURLEncoding.EncodeToString(sealed), ExpiresAt: exp}, nil
}

// pickQuestions returns n of chosen, at random, in their order.
func pickQuestions(chosen []string, n int, r *rand.Rand) []string {
	idx := r.Perm(len(chosen))[:n]
	slices.Sort(idx)
	out := make([]string, n)
	for i, j := range idx {
		out[i] = chosen[j]
	}
	return out
}

// decoyQuestions are the questions shown for a login without answers:
// the policy's number asked, picked from the policy's questions by
// HMAC(decoy key, login), the same on every replica and every ask.
func (s *Identity) decoyQuestions(ctx context.Context, login string, st *secretState) ([]string, error) {
	set := st.set
	if st.user == nil && s.policies != nil {
		// The policy a user of that name with no groups would have.
		err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			p, err := s.policies.PolicyFor(tx, &lanyard.User{Login: login, Roles: lanyard.Roles{lanyard.RoleUser}})
			if err == nil && len(p.Settings.Authentication.SecretQuestions.Questions) > 0 {
				set = p.Settings.Authentication.SecretQuestions
			}
			if lanyard.IsCode(err, lanyard.ENotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	r, err := s.loginRand(ctx, login)
	if err != nil {
		return nil, err
	}
	n := min(max(set.Asked, 1), len(set.Questions))
	return pickQuestions(set.Questions, n, r), nil
}

// loginRand is a generator seeded by HMAC(decoy key, login): the same on
// every replica and every ask for one login, unpredictable without the
// key.
func (s *Identity) loginRand(ctx context.Context, login string) (*rand.Rand, error) {
	key, err := s.decoyKey(ctx)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(login))
	var seed [32]byte
	copy(seed[:], m.Sum(nil))
	return rand.New(rand.NewChaCha8(seed)), nil
}

// policyIndex is q's place among the policy's questions; a question the
// policy no longer offers sorts after them.
func policyIndex(questions []string, q string) int {
	if i := slices.Index(questions, q); i >= 0 {
		return i
	}
	return len(questions)
}

// decoyKey returns the decoy key, making and storing it (sealed) on first
// use. Two replicas making it at once both store theirs; the last one
// stored is read back, so they agree from then on.
func (s *Identity) decoyKey(ctx context.Context) ([]byte, error) {
	if k := s.decoy.Load(); k != nil {
		return *k, nil
	}
	aad := []byte(rssDecoySetting)
	var sealed []byte
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { sealed, err = tx.Setting(rssDecoySetting); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		k := make([]byte, 32)
		if _, err := io.ReadFull(s.rand, k); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness")
		}
		if sealed, err = s.sealer.Seal(k, aad); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "sealing a key failed")
		}
		err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
			if err := tx.PutSetting(rssDecoySetting, sealed); err != nil {
				return err
			}
			sealed, err = tx.Setting(rssDecoySetting)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	k, err := s.sealer.Open(sealed, aad)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "opening a key failed")
	}
	s.decoy.Store(&k)
	return k, nil
}

// RSSSignInInput is a Remote Self-Service sign-in: the ticket of
// RSSQuestionsFor and the answers to its questions.
type RSSSignInInput struct {
	Login      string
	Ticket     string
	Answers    []SecretAnswerInput
	RemoteAddr string
}

// RSSSignInResult is a Remote Self-Service session: the cookie's secret
// and the session.
type RSSSignInResult struct {
	User      *lanyard.User
	SessionID string
	Session   *lanyard.Session
}

// RSSSignIn checks the answers to the questions of in.Ticket and opens a
// Remote Self-Service session (RSSSessionTTL). The answers must be to
// exactly the questions asked. Wrong answers count as in CheckAnswers
// (throttle, lock, counted before they are verified; audited
// rss.signin.attempt, then rss.signin.fail or user.secret_answers.locked);
// a user who does not exist, has no answers or is locked gets the same
// refusal after the same work. Success clears the wrong-answer count and
// opens the session in one transaction (rss.signin).
func (s *Identity) RSSSignIn(ctx context.Context, in RSSSignInInput) (*RSSSignInResult, error) {
	refused := lanyard.Errorf(lanyard.EUnauthenticated, msgRSSRefused)
	t, err := s.openTicket(in.Ticket)
	if err != nil {
		return nil, err
	}
	if t.Login != in.Login {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the questions were asked for another user name; start again")
	}
	if !sameQuestions(t.Questions, in.Answers) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "answer each question asked, once")
	}
	// Before anything is read, alike for every name: bad input, neither
	// counted nor hashed.
	if err := answersNotTooLong(in.Answers); err != nil {
		return nil, err
	}
	st, err := s.readSecretState(ctx, 0, in.Login)
	if err != nil && !st.notFound {
		return nil, err
	}
	if st.notFound || len(st.answers) == 0 || len(st.answers) < st.set.Asked || st.lock.Locked() || st.user.Disabled {
		return nil, s.refuseRSS(ctx, st, in, refused)
	}
	_, err = s.checkState(ctx, st, SecretCheck{UserID: st.user.ID, Answers: in.Answers, RemoteAddr: in.RemoteAddr}, rssActions)
	if lanyard.IsCode(err, lanyard.EForbidden) || lanyard.IsCode(err, lanyard.EConflict) {
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	return s.openRSSSession(ctx, st.user, in.RemoteAddr)
}

// openTicket checks a ticket of RSSQuestionsFor.
func (s *Identity) openTicket(ticket string) (*rssTicket, error) {
	expired := lanyard.Errorf(lanyard.EInvalid, "the questions have expired; enter your user name again")
	raw, err := base64.RawURLEncoding.DecodeString(ticket)
	if err != nil || len(raw) == 0 {
		return nil, expired
	}
	plain, err := s.sealer.Open(raw, rssTicketAAD)
	if err != nil {
		return nil, expired
	}
	var t rssTicket
	if err := json.Unmarshal(plain, &t); err != nil || !s.rec.Clock().Before(time.UnixMicro(t.Expires)) {
		return nil, expired
	}
	return &t, nil
}

// sameQuestions reports whether answers answer exactly asked, each once.
func sameQuestions(asked []string, answers []SecretAnswerInput) bool {
	if len(asked) != len(answers) {
		return false
	}
	got := make([]string, len(answers))
	for i, a := range answers {
		got[i] = a.Question
	}
	want := slices.Clone(asked)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want) && len(slices.Compact(got)) == len(want)
}

// refuseRSS refuses a sign-in that cannot succeed (no such user, no
// answers or fewer than the policy now asks, locked, disabled) after the same work as a wrong answer of a
// user who has answers (review L5: a known name cost one commit more
// than an unknown one, and the time told them apart): the throttle
// counts the failure, the attempt is committed with its event
// (rss.signin.attempt, as reserveAttempt does), the answers are hashed
// against the dummy hash, and the refusal is committed with its event
// (rss.signin.fail, with the reason). An unknown name is audited under
// the name given, on the user object of that name.
func (s *Identity) refuseRSS(ctx context.Context, st *secretState, in RSSSignInInput, refused error) error {
	att, err := s.throttle.Begin(ctx, SecretThrottleKeys(in.Login, in.RemoteAddr)...)
	if err != nil {
		return throttled(err, "too many wrong answers")
	}
	defer att.Release()
	who, reason := st.user, "no answers"
	switch {
	case who == nil:
		who, reason = &lanyard.User{Login: in.Login}, "unknown user"
	case who.Disabled:
		reason = "disabled"
	case st.lock.Locked():
		reason = "locked"
	case len(st.answers) > 0:
		reason = "fewer answers than asked"
	}
	p := &lanyard.Principal{User: who, Roles: lanyard.Roles{lanyard.RoleUser}, RemoteAddr: in.RemoteAddr}
	audit := func(action string, details map[string]any) error {
		return s.rec.Update(ctx, func() *lanyard.AuditEvent {
			return s.rec.Event(p, action, "user", in.Login, details)
		}, func(lanyard.Tx) error { return nil })
	}
	if err := audit(rssActions.attempt, map[string]any{"limit": st.set.WrongBeforeLock}); err != nil {
		return err
	}
	for _, a := range in.Answers {
		if _, err := auth.VerifyPassword(ctx, dummyHash, NormalizeAnswer(a.Answer)); err != nil {
			// As a real user's attempt is given back (returnAttempt):
			// the same second commit, so a busy server tells no name
			// from another.
			if rerr := s.rec.Update(context.WithoutCancel(ctx), func() *lanyard.AuditEvent {
				return s.rec.Event(p, rssActions.returned, "user", in.Login, map[string]any{"failures": 0, "unlocked": false})
			}, func(lanyard.Tx) error { return nil }); rerr != nil {
				s.log.Error("recording a refused sign-in's returned attempt failed", "error", rerr)
			}
			return lanyard.Wrap(lanyard.EUnavailable, err, "checking the answers failed; try again")
		}
	}
	att.Fail()
	s.log.Info("remote self-service sign-in refused", "reason", reason)
	if err := audit(rssActions.fail, map[string]any{"reason": reason}); err != nil {
		return err
	}
	return refused
}

// openRSSSession stores a Remote Self-Service session for u and clears
// the wrong-answer count, in one transaction with its event.
func (s *Identity) openRSSSession(ctx context.Context, u *lanyard.User, remote string) (*RSSSignInResult, error) {
	id, hash, err := auth.NewSessionID(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	csrf, _, err := auth.NewSessionID(s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a session")
	}
	now := s.rec.Clock()
	sess := &lanyard.Session{Hash: hash, UserID: u.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(RSSSessionTTL)}
	p := rssPrincipal(u, remote)
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "rss.signin", "user", u.Login, map[string]any{"expires_at": sess.ExpiresAt})
	}, func(tx lanyard.Tx) error {
		if err := tx.SetSecretLock(u.ID, lanyard.SecretLock{}); err != nil {
			return err
		}
		return tx.CreateRSSSession(sess)
	})
	if err != nil {
		return nil, err
	}
	s.notifyUser(ctx, NoticeRSSSignIn, u, remote, false)
	return &RSSSignInResult{User: u, SessionID: id, Session: sess}, nil
}

// rssPrincipal is who a Remote Self-Service session acts as: the user,
// with the user role only, marked so that cardperm allows only what
// Remote Self-Service offers.
func rssPrincipal(u *lanyard.User, remote string) *lanyard.Principal {
	return &lanyard.Principal{User: u, Roles: lanyard.Roles{lanyard.RoleUser}, RemoteAddr: remote, RemoteSelfService: true}
}

// AuthenticateRSS resolves a Remote Self-Service cookie to its principal
// (RemoteSelfService set, the user role only) and session. Browser
// sessions and API tokens are never accepted here, nor an RSS session
// anywhere else (AuthenticateSession reads another table).
func (s *Identity) AuthenticateRSS(ctx context.Context, sessionID, remote string) (*lanyard.Principal, *lanyard.Session, error) {
	bad := lanyard.Errorf(lanyard.EUnauthenticated, "your Remote Self-Service session has ended; answer your questions again")
	var sess *lanyard.Session
	var u *lanyard.User
	var l lanyard.SecretLock
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if sess, err = tx.RSSSessionByHash(auth.HashToken(sessionID)); err != nil {
			return err
		}
		if u, err = tx.UserByID(sess.UserID); err != nil {
			return err
		}
		l, err = tx.SecretLock(u.ID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || l.Locked() || !s.rec.Clock().Before(sess.ExpiresAt) {
		return nil, nil, bad
	}
	return rssPrincipal(u, remote), sess, nil
}

// EndRSS ends a Remote Self-Service session (rss.signout).
func (s *Identity) EndRSS(ctx context.Context, p *lanyard.Principal, sessionID string) error {
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "rss.signout", "user", p.User.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.DeleteRSSSession(auth.HashToken(sessionID)) })
}
