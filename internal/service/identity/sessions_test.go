package identity_test

import (
	"bytes"
	"context"
	"image/png"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const remote = "192.0.2.10"

// login runs the password step and fails unless it asks for want.
func (e *totpEnv) login(t *testing.T, login, want string) *identity.LoginResult {
	t.Helper()
	res, err := e.svc.Identity.Login(context.Background(), login, totpPassword, remote)
	if err != nil {
		t.Fatalf("login %s: %v", login, err)
	}
	if res.SecondFactor != want || (want == "") != (res.Session != nil) || (want == "") == (res.Challenge != nil) {
		t.Fatalf("login %s: second factor %q, session %v, challenge %v; want %q", login, res.SecondFactor, res.Session != nil, res.Challenge != nil, want)
	}
	return res
}

// session logs login in, enrolling the authenticator app a staff
// account's first login asks for, and returns the session's ID.
func (e *totpEnv) session(t *testing.T, login string) string {
	t.Helper()
	ctx := context.Background()
	res, err := e.svc.Identity.Login(ctx, login, totpPassword, remote)
	if err != nil {
		t.Fatalf("login %s: %v", login, err)
	}
	switch res.SecondFactor {
	case "":
	case identity.SecondFactorEnroll:
		if res, err = e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, e.code(t, res.Setup.Secret, 0), remote); err != nil {
			t.Fatalf("login %s, enrolling: %v", login, err)
		}
	default:
		t.Fatalf("login %s asks for the code of an app enrolled before", login)
	}
	return res.SessionID
}

// TestStaffLoginEnrollsThenAsksForCode: a staff account's first login
// enrolls an authenticator app and its first code completes the login;
// the next login asks for a code. The password alone never yields a
// session, and the pending login is no session.
func TestStaffLoginEnrollsThenAsksForCode(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()

	res := e.login(t, "olivia", identity.SecondFactorEnroll)
	if res.Setup == nil || res.Setup.Secret == "" || res.ChallengeID == "" {
		t.Fatalf("enrollment %+v", res)
	}
	if got := res.Challenge.ExpiresAt.Sub(e.clock.Now()); got != identity.LoginChallengeTTL {
		t.Errorf("challenge lasts %v", got)
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, res.ChallengeID, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Fatalf("the login challenge works as a session: %v", err)
	}
	setup, err := e.svc.Identity.LoginEnrollment(ctx, res.ChallengeID)
	if err != nil || setup.Secret != res.Setup.Secret {
		t.Fatalf("LoginEnrollment: %+v %v", setup, err)
	}
	if img, err := png.Decode(bytes.NewReader(setup.QRPNG)); err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR code: %v", err)
	}
	if _, err := e.svc.Identity.LoginEnrollment(ctx, "not a challenge"); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Fatalf("LoginEnrollment with a made-up challenge: %v", err)
	}

	// A wrong code is refused, and the challenge stays for another try.
	_, err = e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, "000000", remote)
	wantErr(t, "wrong code", err, lanyard.EUnauthenticated, "wrong code")
	if info, _ := e.svc.Identity.TOTPStatus(ctx, e.ad, "olivia"); info.Confirmed {
		t.Fatal("a wrong code confirmed the app")
	}
	done, err := e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	if err != nil {
		t.Fatalf("enrollment code: %v", err)
	}
	if done.Session == nil || !done.Session.SecondFactorAt.Equal(e.clock.Now()) || done.SessionID == "" {
		t.Fatalf("session %+v", done.Session)
	}
	p, _, err := e.svc.Identity.AuthenticateSession(ctx, done.SessionID, remote)
	if err != nil || !p.Session || !p.SecondFactorAt.Equal(e.clock.Now()) || !p.Has(lanyard.RoleOperator) {
		t.Fatalf("the session: %+v %v", p, err)
	}
	if info, _ := e.svc.Identity.TOTPStatus(ctx, e.ad, "olivia"); !info.Confirmed {
		t.Fatal("the app is not confirmed after the login")
	}
	// The challenge is used up.
	e.clock.Add(identity.TOTPPeriod)
	_, err = e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	wantErr(t, "a used challenge", err, lanyard.EUnauthenticated, "expired")

	// Next login: a code; the code already used is refused, a newer one goes.
	e.clock.Add(-identity.TOTPPeriod)
	next := e.login(t, "olivia", identity.SecondFactorCode)
	if next.Setup != nil {
		t.Fatal("a confirmed app's key is shown again")
	}
	if _, err := e.svc.Identity.LoginEnrollment(ctx, next.ChallengeID); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("the QR code of a confirmed app: %v", err)
	}
	_, err = e.svc.Identity.CompleteLogin(ctx, next.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	wantErr(t, "a used code", err, lanyard.EUnauthenticated, "already used")
	e.clock.Add(identity.TOTPPeriod)
	if _, err := e.svc.Identity.CompleteLogin(ctx, next.ChallengeID, e.code(t, res.Setup.Secret, 0), remote); err != nil {
		t.Fatalf("second login: %v", err)
	}

	if got := actions(e.auditOf(t, "session.")); got != "session.second_factor session.login_failed session.login session.second_factor session.login_failed session.login" {
		t.Errorf("audit events %q", got)
	}
	e.wantNoSecrets(t, res.Setup.Secret, totpPassword, res.ChallengeID, done.SessionID)

	// Recovery: an administrator resets the app (a lost phone); the next
	// login enrolls a new one.
	if err := e.svc.Identity.RemoveTOTP(ctx, e.ad, "olivia", ""); err != nil {
		t.Fatal(err)
	}
	again := e.login(t, "olivia", identity.SecondFactorEnroll)
	if again.Setup.Secret == res.Setup.Secret {
		t.Fatal("the reset app's key is offered again")
	}
}

// TestLoginSecondFactorThrottled: wrong codes count in the login throttle
// like wrong passwords; while locked even the right code is refused; a
// challenge expires after LoginChallengeTTL.
func TestLoginSecondFactorThrottled(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	res := e.login(t, "olivia", identity.SecondFactorEnroll)
	for range auth.DefaultLimits().MaxFailures {
		_, err := e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, "123456", remote)
		wantErr(t, "wrong code", err, lanyard.EUnauthenticated, "wrong code")
	}
	_, err := e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	wantErr(t, "right code while locked", err, lanyard.ERateLimited, "try again")
	_, err = e.svc.Identity.Login(ctx, "olivia", totpPassword, remote)
	wantErr(t, "password while locked", err, lanyard.ERateLimited, "try again")

	e.clock.Add(identity.LoginChallengeTTL)
	_, err = e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	wantErr(t, "expired challenge", err, lanyard.EUnauthenticated, "expired")
}

// TestPlainUserLogin: a user without a staff role and without an
// authenticator app logs in with the password alone; once they set up an
// app, their login asks for its code too.
func TestPlainUserLogin(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	res := e.login(t, "alice", "")
	p, _, err := e.svc.Identity.AuthenticateSession(ctx, res.SessionID, remote)
	if err != nil || !p.Session || !p.SecondFactorAt.IsZero() {
		t.Fatalf("alice's session: %+v %v", p, err)
	}
	_, err = e.svc.Identity.Login(ctx, "alice", "wrong password", remote)
	wantErr(t, "wrong password", err, lanyard.EUnauthenticated, "wrong login or password")
	_, err = e.svc.Identity.Login(ctx, "nobody", totpPassword, remote)
	wantErr(t, "unknown login", err, lanyard.EUnauthenticated, "wrong login or password")

	secret := e.enroll(t, e.alice)
	e.clock.Add(identity.TOTPPeriod)
	code := e.login(t, "alice", identity.SecondFactorCode)
	if _, err := e.svc.Identity.CompleteLogin(ctx, code.ChallengeID, e.code(t, secret, 0), remote); err != nil {
		t.Fatal(err)
	}
}

// TestStaffSessionWithoutSecondFactorRefused: sessions made with the
// password alone (before this rule, or before the account became staff)
// stop working for staff accounts and keep working for other users.
func TestStaffSessionWithoutSecondFactorRefused(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	old := func(p *lanyard.Principal, secret string) {
		storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
			return tx.CreateSession(&lanyard.Session{Hash: auth.HashToken(secret), UserID: p.User.ID, CSRFToken: "c", CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)})
		})
	}
	old(e.op, "olivia-old-session")
	old(e.auditor, "audrey-old-session")
	alice := e.login(t, "alice", "")
	for _, id := range []string{"olivia-old-session", "audrey-old-session"} {
		_, _, err := e.svc.Identity.AuthenticateSession(ctx, id, remote)
		wantErr(t, id, err, lanyard.EUnauthenticated, "authenticator app")
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, alice.SessionID, remote); err != nil {
		t.Fatalf("alice's session: %v", err)
	}
	// alice becomes an operator (with a new password, as a grant needs):
	// her password-only session ends.
	roles, pw := lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}, "alice's password as an operator"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ad, "alice", identity.UserInput{Roles: &roles, Password: &pw}); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.svc.Identity.AuthenticateSession(ctx, alice.SessionID, remote)
	wantErr(t, "alice as an operator", err, lanyard.EUnauthenticated, "")
}

// TestLoginCountsAttemptsBeforeHashing: parallel wrong passwords for one
// account are counted before they are checked, so no more of them run
// than the throttle has room for (auth.Throttle.Begin).
func TestLoginCountsAttemptsBeforeHashing(t *testing.T) {
	e := newTOTPEnv(t)
	const n = 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.Identity.Login(context.Background(), "alice", "wrong password", remote)
			mu.Lock()
			codes[lanyard.ErrorCode(err)]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if max := auth.DefaultLimits().MaxFailures; codes[lanyard.EUnauthenticated] != max || codes[lanyard.ERateLimited] != n-max {
		t.Fatalf("answers %v; want %d checked and the rest refused unchecked", codes, max)
	}
}

// TestTokenFromSessionNeedsFreshSecondFactor: a browser session creates
// an API token only within minutes of its second factor, or with a
// current code; tokens create tokens without one. Every token's lifetime
// is capped by the token policy, 90 days unless administrators change it.
func TestTokenFromSessionNeedsFreshSecondFactor(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	res, done := e.enrollAtLogin(t, "olivia")
	session := func() *lanyard.Principal {
		p, _, err := e.svc.Identity.AuthenticateSession(ctx, done.SessionID, remote)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, err := e.svc.Identity.CreateToken(ctx, session(), identity.TokenInput{Name: "fresh"}); err != nil {
		t.Fatalf("right after the login: %v", err)
	}
	e.clock.Add(identity.TokenFactorFresh + time.Second)
	_, err := e.svc.Identity.CreateToken(ctx, session(), identity.TokenInput{Name: "stale"})
	wantErr(t, "a stale factor", err, lanyard.ESecondFactorRequired, "code")
	_, err = e.svc.Identity.CreateToken(ctx, session(), identity.TokenInput{Name: "wrong", Code: "000000"})
	wantErr(t, "a wrong code", err, lanyard.EStepUpFailed, "wrong code")
	tok, err := e.svc.Identity.CreateToken(ctx, session(), identity.TokenInput{Name: "with code", Code: e.code(t, res.Setup.Secret, 0)})
	if err != nil {
		t.Fatalf("with a code: %v", err)
	}
	// The code is used up with the token.
	_, err = e.svc.Identity.CreateToken(ctx, session(), identity.TokenInput{Name: "replay", Code: e.code(t, res.Setup.Secret, 0)})
	wantErr(t, "a used code", err, lanyard.EStepUpFailed, "already used")
	// A session without any factor (a user without an app) cannot.
	alice := e.login(t, "alice", "")
	ap, _, err := e.svc.Identity.AuthenticateSession(ctx, alice.SessionID, remote)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Identity.CreateToken(ctx, ap, identity.TokenInput{})
	wantErr(t, "alice's session", err, lanyard.ESecondFactorRequired, "authenticator app")

	// A token creates tokens without a code.
	tp, err := e.svc.Identity.AuthenticateToken(ctx, tok.Secret, remote)
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.svc.Identity.CreateToken(ctx, tp, identity.TokenInput{Name: "by token"})
	if err != nil {
		t.Fatalf("token by token: %v", err)
	}
	if got := def.Token.ExpiresAt.Sub(e.clock.Now()); got != identity.DefaultTokenTTL {
		t.Errorf("default lifetime %v", got)
	}

	// The lifetime cap: 90 days by default, then what administrators set.
	_, err = e.svc.Identity.CreateToken(ctx, tp, identity.TokenInput{TTL: "2161h"})
	wantErr(t, "over 90 days", err, lanyard.EInvalid, "longest token lifetime allowed, 2160h")
	if ts, err := e.svc.Identity.TokenSettings(ctx); err != nil || ts.MaxTTL != "2160h" {
		t.Fatalf("default settings %+v %v", ts, err)
	}
	_, err = e.svc.Identity.PutTokenSettings(ctx, e.op, identity.TokenSettings{MaxTTL: "720h"})
	wantErr(t, "an operator sets the policy", err, lanyard.EForbidden, "administrators")
	for _, bad := range []string{"", "30m", "17521h", "forever"} {
		_, err = e.svc.Identity.PutTokenSettings(ctx, e.ad, identity.TokenSettings{MaxTTL: bad})
		wantErr(t, "max_ttl "+bad, err, lanyard.EInvalid, "max_ttl")
	}
	if ts, err := e.svc.Identity.PutTokenSettings(ctx, e.ad, identity.TokenSettings{MaxTTL: "720h"}); err != nil || ts.MaxTTL != "720h" {
		t.Fatalf("set 720h: %+v %v", ts, err)
	}
	_, err = e.svc.Identity.CreateToken(ctx, tp, identity.TokenInput{TTL: "721h"})
	wantErr(t, "over 30 days", err, lanyard.EInvalid, "720h")
	short, err := e.svc.Identity.CreateToken(ctx, tp, identity.TokenInput{})
	if err != nil || short.Token.ExpiresAt.Sub(e.clock.Now()) != 720*time.Hour {
		t.Fatalf("default under a 30-day cap: %v", err)
	}
	if got := actions(e.auditOf(t, "tokens.settings")); got != "tokens.settings" {
		t.Errorf("audit %q", got)
	}
}
