package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestExternalLogin: a sign-in a provider vouched for opens a user's
// session at once; a staff account gets the login challenge of a
// password login (enrollment first), unless the provider asserted a
// counted second factor, which the session then records; the challenge
// is described by PendingLogin and completed by CompleteLogin; a
// disabled account is refused.
func TestExternalLogin(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	const sub = "https://idp.example.test#s1"
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
		for _, u := range []*lanyard.User{e.alice.User, e.op.User, e.bob.User} {
			if err := tx.SetOIDCBinding(u.ID, sub, e.clock.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	oidc := identity.ExternalAuth{Method: "oidc", Provider: "corp", Subject: sub, Console: true, SelfService: true}
	// The account must be bound to the subject, and the provider enabled
	// for the account's class as it is now (made staff after the match).
	for what, ext := range map[string]identity.ExternalAuth{
		"another subject": {Method: "oidc", Provider: "corp", Subject: sub + "x", Console: true, SelfService: true},
		"no subject":      {Method: "oidc", Provider: "corp", Console: true, SelfService: true},
	} {
		if _, err := e.svc.Identity.ExternalLogin(ctx, e.alice.User, ext, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
			t.Errorf("%s: %v, want refused", what, err)
		}
	}
	selfOnly := oidc
	selfOnly.Console = false
	if _, err := e.svc.Identity.ExternalLogin(ctx, e.op.User, selfOnly, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("staff through a Self-Service provider: %v, want refused", err)
	}
	consoleOnly := oidc
	consoleOnly.SelfService = false
	if _, err := e.svc.Identity.ExternalLogin(ctx, e.alice.User, consoleOnly, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("user through a console-only provider: %v, want refused", err)
	}
	res, err := e.svc.Identity.ExternalLogin(ctx, e.alice.User, oidc, remote)
	if err != nil || res.Session == nil || !res.Session.SecondFactorAt.IsZero() {
		t.Fatalf("user: %v, %+v; want a session without second factor", err, res)
	}
	res, err = e.svc.Identity.ExternalLogin(ctx, e.op.User, oidc, remote)
	if err != nil || res.Session != nil || res.Challenge == nil || res.SecondFactor != identity.SecondFactorEnroll {
		t.Fatalf("staff without an app: %v, %+v; want an enrollment challenge", err, res)
	}
	pending, err := e.svc.Identity.PendingLogin(ctx, res.ChallengeID)
	if err != nil || pending.SecondFactor != identity.SecondFactorEnroll || pending.Setup == nil || pending.Setup.Secret == "" {
		t.Fatalf("PendingLogin: %v, %+v", err, pending)
	}
	if _, err := e.svc.Identity.PendingLogin(ctx, "not a challenge"); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("PendingLogin of nothing: %v", err)
	}
	code, err := identity.TOTPCode(pending.Setup.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.svc.Identity.CompleteLogin(ctx, res.ChallengeID, code, remote)
	if err != nil || done.Session == nil || done.Session.SecondFactorAt.IsZero() {
		t.Fatalf("CompleteLogin after a sign-in at a provider: %v", err)
	}

	withFactor := oidc
	withFactor.SecondFactor = "amr=hwk"
	res, err = e.svc.Identity.ExternalLogin(ctx, e.op.User, withFactor, remote)
	if err != nil || res.Session == nil || res.Session.SecondFactorAt.IsZero() {
		t.Fatalf("staff with the provider's second factor: %v, %+v; want a session with it", err, res)
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, res.SessionID, remote); err != nil {
		t.Errorf("the staff session: %v", err)
	}
	// The provider's second factor dates from its auth_time, not now.
	withFactor.SecondFactorAt = e.clock.Now().Add(-3 * time.Minute).Truncate(time.Second)
	res, err = e.svc.Identity.ExternalLogin(ctx, e.op.User, withFactor, remote)
	if err != nil || res.Session == nil || !res.Session.SecondFactorAt.Equal(withFactor.SecondFactorAt) {
		t.Fatalf("second factor at auth_time: %v, %+v; want it at %v", err, res, withFactor.SecondFactorAt)
	}
	var events []*lanyard.AuditEvent
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "session.login", Actor: e.op.User.Login, Limit: 10})
		return
	})
	if len(events) == 0 || string(events[len(events)-1].Details) != `{"method":"oidc","provider":"corp","provider_second_factor":"amr=hwk","second_factor":true}` {
		t.Errorf("the login event: %d events, last %s", len(events), events[len(events)-1].Details)
	}

	u := *e.bob.User
	u.Disabled = true
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.UpdateUser(&u) })
	if _, err := e.svc.Identity.ExternalLogin(ctx, e.bob.User, oidc, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("disabled account: %v", err)
	}
}
