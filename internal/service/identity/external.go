package identity

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ExternalAuth is a sign-in that an external identity provider vouched
// for (internal/service/sso: an OpenID Connect ID token it verified).
type ExternalAuth struct {
	Method   string // "oidc"
	Provider string // the provider's name
	// Subject is the provider subject (issuer#sub) the sign-in mapped
	// to u: u must be bound to it (or made just in time for it).
	Subject string
	// Console and SelfService are the provider's settings: a staff
	// account signs in only through a provider enabled for the console,
	// any other only through one enabled for Self-Service.
	Console, SelfService bool
	// SecondFactor is the amr or acr value by which the provider
	// asserted a second factor that the provider's configuration counts
	// (e.g. "amr=hwk"); "" when it asserted none.
	SecondFactor string
	// SecondFactorAt is when the provider authenticated the person with
	// SecondFactor (the ID token's auth_time); the session's second
	// factor dates from then, not from now. Zero: now.
	SecondFactorAt time.Time
}

// ExternalLogin opens u's session after a sign-in at an external
// provider, as Login does after a password: the caller (the sso
// capability, through the web layer) has verified the provider's
// assertion and mapped it to exactly this enabled account. The second
// factor follows the password login's rule (secondFactorFor): a staff
// account, or a user with a confirmed authenticator app, gets the login
// challenge and completes it with CompleteLogin, unless the provider
// asserted a second factor the configuration counts. u is read again
// here, with its binding: an account disabled meanwhile is refused, and
// so is one no longer bound to ext.Subject or whose class the provider
// is no longer enabled for (made staff after the sso capability matched
// it: the staff rules of the match must hold for the account as it is
// now, not as it was read).
func (s *Identity) ExternalLogin(ctx context.Context, u *lanyard.User, ext ExternalAuth, remote string) (*LoginResult, error) {
	var bound string
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if u, err = tx.UserByID(u.ID); err != nil {
			return err
		}
		if u.Source == lanyard.SourceOIDC {
			bound = u.ExternalID
			return nil
		}
		bound, err = tx.OIDCBinding(u.ID)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "the account %q is disabled", u.Login)
	}
	if ext.Subject == "" || bound != ext.Subject {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "the account %q is not bound to this sign-in at %s; sign in again", u.Login, ext.Provider)
	}
	if staff := u.Roles.Staff(); staff && !ext.Console || !staff && !ext.SelfService {
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "%s is not enabled for the account %q; sign in with your password", ext.Provider, u.Login)
	}
	if ext.SecondFactor == "" {
		e, err := s.totpEnrollment(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		if mode := secondFactorFor(u, e); mode != "" {
			return s.challenge(ctx, u, mode, e, remote)
		}
	}
	return s.openSessionWith(ctx, u, remote, nil, nil, nil, &ext)
}

// PendingLogin describes the login waiting for its second factor that
// challengeID (the login cookie's secret) names: the mode and expiry,
// and for an enrollment the app to set up (LoginEnrollment's rule). The
// login page asks for it when a sign-in at a provider brings the browser
// back for Lanyard's own second factor.
func (s *Identity) PendingLogin(ctx context.Context, challengeID string) (*LoginResult, error) {
	c, u, err := s.loginChallenge(ctx, challengeID)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: u, Challenge: c, SecondFactor: c.Mode}
	if c.Mode == SecondFactorEnroll {
		if res.Setup, err = s.LoginEnrollment(ctx, challengeID); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// AddressThrottleKey is the login throttle's key for client address
// remote (LoginThrottleKeys' second key): the sso capability counts
// failed sign-ins at a provider under it, so that they slow down the
// same address's password guesses and the other way round.
func AddressThrottleKey(remote string) string { return "ip:" + throttleNet(remote) }
