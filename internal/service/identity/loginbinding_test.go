package identity_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestLoginChallengeBoundToItsEnrollment is the review's attack (issue
// 13, M1): an attacker with a staff member's password starts a login
// while the staff member has no authenticator app yet; the staff member
// then logs in and sets up theirs. The attacker's pending login must
// neither show the staff member's new secret nor take its codes, before
// or after the staff member confirms it.
func TestLoginChallengeBoundToItsEnrollment(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	attacker := e.login(t, "olivia", identity.SecondFactorEnroll)
	victim := e.login(t, "olivia", identity.SecondFactorEnroll)

	if setup, err := e.svc.Identity.LoginEnrollment(ctx, attacker.ChallengeID); err == nil {
		if setup.Secret == victim.Setup.Secret {
			t.Fatal("the attacker's login shows the victim's new authenticator secret")
		}
		t.Fatal("the attacker's login shows an authenticator secret after another login replaced its app")
	}
	_, err := e.svc.Identity.CompleteLogin(ctx, attacker.ChallengeID, e.code(t, victim.Setup.Secret, 0), remote)
	wantErr(t, "the attacker's login with the victim's code", err, lanyard.EUnauthenticated, "")
	_, err = e.svc.Identity.CompleteLogin(ctx, attacker.ChallengeID, e.code(t, attacker.Setup.Secret, 0), remote)
	wantErr(t, "the attacker's login with its own, replaced app", err, lanyard.EUnauthenticated, "")

	setup, err := e.svc.Identity.LoginEnrollment(ctx, victim.ChallengeID)
	if err != nil || setup.Secret != victim.Setup.Secret {
		t.Fatalf("the victim's QR code: %v", err)
	}
	if _, err := e.svc.Identity.CompleteLogin(ctx, victim.ChallengeID, e.code(t, victim.Setup.Secret, 0), remote); err != nil {
		t.Fatalf("the victim's enrollment: %v", err)
	}
	e.clock.Add(identity.TOTPPeriod)
	_, err = e.svc.Identity.CompleteLogin(ctx, attacker.ChallengeID, e.code(t, victim.Setup.Secret, 0), remote)
	wantErr(t, "the attacker's enrollment login with the confirmed app's code", err, lanyard.EUnauthenticated, "")
	if _, err := e.svc.Identity.LoginEnrollment(ctx, attacker.ChallengeID); err == nil {
		t.Fatal("the attacker's login shows the confirmed app's secret")
	}
}

// TestLoginEnrollmentOnlyItsOwnApp: a login that set up an authenticator
// app shows and takes that app only, even when the account set up another
// one meanwhile without a login (through the self-service API, with a
// token), which does not end pending logins.
func TestLoginEnrollmentOnlyItsOwnApp(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	pending := e.login(t, "olivia", identity.SecondFactorEnroll)
	other, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.op)
	if err != nil {
		t.Fatal(err)
	}
	if setup, err := e.svc.Identity.LoginEnrollment(ctx, pending.ChallengeID); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("LoginEnrollment after the app was replaced: %v, same secret %v; want not found", err, setup != nil && setup.Secret == other.Secret)
	}
	_, err = e.svc.Identity.CompleteLogin(ctx, pending.ChallengeID, e.code(t, other.Secret, 0), remote)
	wantErr(t, "a code of the app set up meanwhile", err, lanyard.EUnauthenticated, "changed")
	if info, _ := e.svc.Identity.TOTPStatus(ctx, e.ad, "olivia"); info.Confirmed {
		t.Fatal("a login confirmed an app it did not set up")
	}
}

// TestResetTOTPEndsSessionsAndLogins: an administrator's reset of a staff
// member's authenticator app (a lost phone, perhaps stolen) ends that
// person's sessions and pending logins: whoever has the phone or a
// session made with it is out.
func TestResetTOTPEndsSessionsAndLogins(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	res, done := e.enrollAtLogin(t, "olivia")
	e.clock.Add(identity.TOTPPeriod)
	pending := e.login(t, "olivia", identity.SecondFactorCode)
	if err := e.svc.Identity.ResetTOTP(ctx, e.ad, "olivia"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, done.SessionID, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Fatalf("a session survives the reset of its authenticator app: %v", err)
	}
	_, err := e.svc.Identity.CompleteLogin(ctx, pending.ChallengeID, e.code(t, res.Setup.Secret, 0), remote)
	wantErr(t, "a pending login after the reset", err, lanyard.EUnauthenticated, "expired")
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		_, err := tx.LoginChallengeByHash(pending.Challenge.Hash)
		wantErr(t, "the pending login's challenge after the reset", err, lanyard.ENotFound, "")
		return nil
	})
}

// TestPasswordResetEndsPendingLogins: an administrator's password reset
// of a staff account ends the logins that passed the old password and
// wait for the second factor, with the sessions and tokens.
func TestPasswordResetEndsPendingLogins(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	pending := e.login(t, "olivia", identity.SecondFactorEnroll)
	pw := "a brand new password for olivia"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ad, "olivia", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Identity.CompleteLogin(ctx, pending.ChallengeID, e.code(t, pending.Setup.Secret, 0), remote)
	wantErr(t, "a login begun with the old password", err, lanyard.EUnauthenticated, "expired")
}

// enrollAtLogin logs staff member login in for the first time, enrolling
// the authenticator app: the password step's result and the session's.
func (e *totpEnv) enrollAtLogin(t *testing.T, login string) (pending, done *identity.LoginResult) {
	t.Helper()
	pending = e.login(t, login, identity.SecondFactorEnroll)
	done, err := e.svc.Identity.CompleteLogin(context.Background(), pending.ChallengeID, e.code(t, pending.Setup.Secret, 0), remote)
	if err != nil {
		t.Fatalf("login %s, enrolling: %v", login, err)
	}
	return pending, done
}
