package identity

import (
	"context"
	"errors"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The second-factor step-up: a code from the confirmed authenticator app
// (checkCode, shared by the login's second step and token creation) and
// VerifySecondFactor, the password and code asked again before an
// action that needs fresh proof; failures count in the login throttle.

// Messages of the step-up check, shown to the user as they are.
const (
	msgEnrollFirst = "enroll an authenticator app in Self-Service first"
	msgWrongCode   = "wrong code from the authenticator app; check that the phone's clock is right and enter the code it shows now"
	msgCodeUsed    = "this code was already used; wait for the authenticator app to show the next one"
)

// LoginThrottleKeys are the throttle keys of a password check for login
// from address remote: one per account, first (a success clears it,
// auth.Attempt.Succeed), one per client network (throttleNet). The login
// form and the second-factor step-up share them, so neither is a faster
// way to guess a password.
func LoginThrottleKeys(login, remote string) []string {
	keys := []string{"login:" + login}
	if remote != "" {
		keys = append(keys, "ip:"+throttleNet(remote))
	}
	return keys
}

// throttleNet is the network a client address is throttled as
// (auth.ClientNet: an IPv4 address, an IPv6 address's /64).
func throttleNet(remote string) string { return auth.ClientNet(remote) }

// LoginThrottle is the throttle that the login form and the step-up share.
func (s *Identity) LoginThrottle() *auth.Throttle { return s.throttle }

// VerifySecondFactor is the step-up check "primary credentials plus a
// second factor" that the platform credential's Set up PIN asks for: the
// caller's password and a current code from their confirmed authenticator
// app. Password failures count in the login throttle under the same keys
// as the login form (LoginThrottleKeys), so this is no faster way to guess
// passwords; wrong or replayed codes count there too. The accepted code's
// time step is recorded in the same transaction as the audit event, and a
// code of that step or an older one is refused afterwards. Refusals write
// nothing.
//
// Without a code, on a TLS connection presenting the caller's own card
// (p.ClientCertificates, a card that would sign them in: verifyCard),
// the card is the second factor instead (cardStepUp); a chain the web
// layer found too old or resumed (p.ClientCertificatesRefused) is
// refused there with its reason.
//
// Errors: EInvalid for a password longer than auth.MaxPasswordInput;
// ESecondFactorRequired when no authenticator app is confirmed (and no
// card presented); EStepUpFailed for a wrong password, a wrong code, a
// code already used or a card refused (the message says which);
// ERateLimited while throttled.
func (s *Identity) VerifySecondFactor(ctx context.Context, p *lanyard.Principal, password, code string) error {
	if err := selfOnly(p); err != nil {
		return err
	}
	if len(password) > auth.MaxPasswordInput {
		// Never right, so never hashed nor counted (Login).
		return lanyard.Errorf(lanyard.EInvalid, "a password is at most %d bytes", auth.MaxPasswordInput)
	}
	att, err := s.beginAttempt(ctx, LoginThrottleKeys(p.User.Login, p.RemoteAddr))
	if err != nil {
		return err
	}
	defer att.Release()
	var u *lanyard.User
	var e *lanyard.TOTPEnrollment
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if u, err = tx.UserByID(p.User.ID); err != nil {
			return err
		}
		e, err = tx.TOTPEnrollment(u.ID)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			e, err = nil, nil
		}
		return err
	})
	if err != nil {
		return err
	}
	card := code == "" && (len(p.ClientCertificates) > 0 || p.ClientCertificatesRefused != "")
	if !card && !e.Confirmed() {
		return lanyard.Errorf(lanyard.ESecondFactorRequired, msgEnrollFirst)
	}
	if s.fromDirectory(u) {
		if err := s.directories.Authenticate(ctx, u, password); err != nil {
			if !lanyard.IsCode(err, lanyard.EUnauthenticated) {
				return err // unreachable: not a wrong password
			}
			s.refuseStepUp(att, u.Login, "wrong password")
			return lanyard.Errorf(lanyard.EStepUpFailed, "wrong password")
		}
		return s.secondStepUp(ctx, p, att, u, e, code, card)
	}
	hash := u.PasswordHash
	if hash == "" || u.Disabled {
		hash = dummyHash // same time as a real check; never matches
	}
	ok, err := auth.VerifyPassword(ctx, hash, password)
	if errors.Is(err, auth.ErrBusy) {
		return lanyard.Wrap(lanyard.EUnavailable, err, "the server is busy checking other passwords; try again")
	}
	if err != nil || !ok || hash == dummyHash {
		s.refuseStepUp(att, u.Login, "wrong password")
		return lanyard.Errorf(lanyard.EStepUpFailed, "wrong password")
	}
	return s.secondStepUp(ctx, p, att, u, e, code, card)
}

// secondStepUp is the step-up's second half, once the password was
// right: the caller's card on the connection (card), or the code,
// recorded as used with the audit event.
func (s *Identity) secondStepUp(ctx context.Context, p *lanyard.Principal, att *auth.Attempt, u *lanyard.User, e *lanyard.TOTPEnrollment, code string, card bool) error {
	if card {
		if err := s.cardStepUp(ctx, p, u); err != nil {
			return err
		}
		att.Succeed()
		return nil
	}
	step, err := s.stepUpCode(att, u.Login, e, code)
	if err != nil {
		return err
	}
	prev := e.LastStep
	e.LastStep = step
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "totp.verify", "user", u.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(e, prev) })
	if lanyard.IsCode(err, lanyard.EConflict) {
		// Another request used this step (or a newer one) first.
		s.refuseStepUp(att, u.Login, "code already used")
		return lanyard.Errorf(lanyard.EStepUpFailed, msgCodeUsed)
	}
	if err != nil {
		return err
	}
	att.Succeed()
	return nil
}

// stepUpCode checks a code of the step-up (or of a removal, a login, a
// token) against e: wrong and replayed codes settle att as a failure.
func (s *Identity) stepUpCode(att *auth.Attempt, login string, e *lanyard.TOTPEnrollment, code string) (int64, error) {
	norm, err := normalizeTOTPCode(code)
	if err != nil {
		s.refuseStepUp(att, login, "malformed code")
		return 0, lanyard.Errorf(lanyard.EStepUpFailed, "%s", lanyard.ErrorMessage(err))
	}
	step, err := s.checkTOTP(e, norm)
	if err != nil && !lanyard.IsCode(err, lanyard.EInvalid) {
		return 0, err
	}
	if err != nil {
		s.refuseStepUp(att, login, lanyard.ErrorMessage(err))
		return 0, lanyard.Errorf(lanyard.EStepUpFailed, "%s", lanyard.ErrorMessage(err))
	}
	return step, nil
}

// codeCheck is an authenticator app code found right, to be recorded in
// the transaction of what it allows (record), and the throttle attempt to
// settle after that commits.
type codeCheck struct {
	e    *lanyard.TOTPEnrollment
	step int64
	att  *auth.Attempt
}

// checkCode checks code against u's authenticator app under the login
// throttle, if accept takes that app (which one may be used, and whether
// it must be confirmed, depends on what the code is for).
// ESecondFactorRequired when u has none; accept's error when it refuses
// the app; EStepUpFailed (counted) for a wrong, malformed or used code.
// On success the caller settles the returned attempt (Succeed after its
// commit; a deferred Release otherwise).
func (s *Identity) checkCode(ctx context.Context, u *lanyard.User, remote, code string, accept func(*lanyard.TOTPEnrollment) error) (*codeCheck, error) {
	att, err := s.beginAttempt(ctx, LoginThrottleKeys(u.Login, remote))
	if err != nil {
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, u.ID)
	if err == nil && e == nil {
		err = lanyard.Errorf(lanyard.ESecondFactorRequired, "no authenticator app is set up (it was reset meanwhile?); log in again")
	}
	if err == nil {
		err = accept(e)
	}
	if err != nil {
		att.Release()
		return nil, err
	}
	step, err := s.stepUpCode(att, u.Login, e, code)
	if err != nil {
		att.Release() // settled already when the code was wrong
		return nil, err
	}
	return &codeCheck{e: e, step: step, att: att}, nil
}

// record writes the code's time step (so it cannot be used again) and
// confirms a new app, if the enrollment is still the one checked (the
// store compares the sealed secret and the last step); a concurrent use
// of the step, or a replaced app, fails with EStepUpFailed.
func (c *codeCheck) record(tx lanyard.CredentialStore, now time.Time) error {
	e := *c.e
	if !e.Confirmed() {
		e.ConfirmedAt = now
	}
	e.LastStep = c.step
	err := tx.UpdateTOTPEnrollment(&e, c.e.LastStep)
	if lanyard.IsCode(err, lanyard.EConflict) {
		return lanyard.Errorf(lanyard.EStepUpFailed, msgCodeUsed)
	}
	return err
}

// TOTPCode is the code an authenticator app shows at t for the base32
// secret of a TOTPSetup (tests and tools that play the app).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts)
}

// checkTOTP returns the time step whose code code is, among the current
// step and totpSkew steps either side, if it is newer than e.LastStep.
// totp.ValidateCustom compares in constant time; it is asked one step at a
// time so that the matching step is known.
func (s *Identity) checkTOTP(e *lanyard.TOTPEnrollment, code string) (int64, error) {
	secret, err := s.openTOTP(e)
	if err != nil {
		return 0, err
	}
	b32 := b32NoPad.EncodeToString(secret)
	now := totpStep(s.rec.Clock())
	replay := false
	// Newest first: of a code valid in two steps (a one-in-a-million
	// coincidence), the newer unused step is taken.
	for d := int64(totpSkew); d >= -totpSkew; d-- {
		step := now + d
		ok, err := totp.ValidateCustom(code, b32, time.Unix(step*int64(totpOpts.Period), 0), totpOpts)
		if err != nil {
			return 0, lanyard.Wrap(lanyard.EInternal, err, "checking the code failed")
		}
		if !ok {
			continue
		}
		if step <= e.LastStep {
			replay = true
			continue
		}
		return step, nil
	}
	if replay {
		return 0, lanyard.Errorf(lanyard.EInvalid, msgCodeUsed)
	}
	return 0, lanyard.Errorf(lanyard.EInvalid, msgWrongCode)
}

// beginAttempt reserves a password or code check on keys in the login
// throttle before it is made (auth.Throttle.Begin); refused with
// ERateLimited, whose cause carries the wait.
func (s *Identity) beginAttempt(ctx context.Context, keys []string) (*auth.Attempt, error) {
	att, err := s.throttle.Begin(ctx, keys...)
	if err != nil {
		return nil, throttled(err, "too many failed logins and codes")
	}
	return att, nil
}

// throttled is the error of a throttle refusal: what was refused and
// how long to wait. Any other error of the throttle (its database is
// down) is returned as it is.
func throttled(err error, what string) error {
	var te *auth.ThrottledError
	if !errors.As(err, &te) {
		return err
	}
	wait := te.Wait
	return lanyard.Wrap(lanyard.ERateLimited, err, what+"; try again in "+max(wait, time.Second).Round(time.Second).String())
}

// refuseStepUp counts a failed step-up and logs it; the password and the
// code are never logged.
func (s *Identity) refuseStepUp(att *auth.Attempt, login, reason string) {
	att.Fail()
	s.log.Info("second factor refused", "login", login, "reason", reason)
}
