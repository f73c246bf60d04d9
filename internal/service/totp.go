package service

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"image/png"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The second factor is TOTP (RFC 6238) with the parameters every
// authenticator app supports: HMAC-SHA1, 6 digits, 30-second steps. A code
// is accepted from the current step and one step either side (RFC 6238,
// 5.2: at most one step of network delay or clock drift), and only from a
// step newer than the last one accepted, so an observed code cannot be
// replayed.
const (
	TOTPIssuer = "Lanyard" // the otpauth issuer: the name the app lists the account under
	TOTPDigits = 6
	TOTPPeriod = 30 * time.Second
	totpSkew   = 1
	// totpSecretSize is the shared key's length: 160 bits, the HMAC-SHA1
	// output size that RFC 4226 section 4 recommends.
	totpSecretSize = 20
	// totpQRSize is the QR code PNG's width and height in pixels.
	totpQRSize = 256
)

// Messages of the step-up check, shown to the user as they are.
const (
	msgEnrollFirst = "enroll an authenticator app in Self-Service first"
	msgWrongCode   = "wrong code from the authenticator app; check that the phone's clock is right and enter the code it shows now"
	msgCodeUsed    = "this code was already used; wait for the authenticator app to show the next one"
)

var totpOpts = totp.ValidateOpts{Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPSetup is what an authenticator app needs to enroll: the otpauth://
// URL (as a QR code, or typed in as the base32 secret).
type TOTPSetup struct {
	URL    string `json:"otpauth_url"`
	Secret string `json:"secret"` // base32 without padding, for manual entry
	QRPNG  []byte `json:"qr_png"` // the URL as a QR code, PNG
}

// TOTPInfo says whether a user has an authenticator app.
type TOTPInfo struct {
	Login       string    `json:"login"`
	Enrolled    bool      `json:"enrolled"`  // an enrollment exists, confirmed or not
	Confirmed   bool      `json:"confirmed"` // it counts as a second factor
	CreatedAt   time.Time `json:"created_at,omitzero"`
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
}

func totpAAD(userID int64) []byte { return []byte("totp-secret:" + strconv.FormatInt(userID, 10)) }

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

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

// throttleNet is the network a client address is throttled as: an IPv4
// address itself, an IPv6 address its /64. One IPv6 client usually holds
// a whole /64 (RFC 4291 section 2.5.1 interface identifiers; RFC 8981
// temporary addresses change within it), so per-address keys would give
// it 2^64 fresh counters. An address that does not parse is its own key.
func throttleNet(remote string) string {
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		return remote
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}

// LoginThrottle is the throttle that the login form and the step-up share.
func (s *Service) LoginThrottle() *auth.Throttle { return s.throttle }

// BeginTOTPEnrollment makes a new authenticator app secret for the caller
// and returns it for the app. It replaces an unconfirmed enrollment; a
// confirmed one must be removed first (RemoveTOTP, which asks for a
// current code), so that someone who learnt the password cannot swap the
// authenticator for their own.
func (s *Service) BeginTOTPEnrollment(ctx context.Context, p *Principal) (*TOTPSetup, error) {
	if err := selfOnly(p); err != nil {
		return nil, err
	}
	setup, e, err := s.newTOTPEnrollment(p.User)
	if err != nil {
		return nil, err
	}
	replaced := false
	err = s.store.Update(ctx, func(tx lanyard.Tx) (err error) {
		if replaced, err = putTOTPEnrollment(tx, e); err != nil {
			return err
		}
		return tx.AppendAudit(s.event(p, "totp.begin", "user", p.User.Login, map[string]any{"replaced": replaced}))
	})
	if err != nil {
		return nil, err
	}
	return setup, nil
}

// newTOTPEnrollment makes a new authenticator app secret for u: the setup
// to show and the enrollment to store (sealed, unconfirmed).
func (s *Service) newTOTPEnrollment(u *lanyard.User) (*TOTPSetup, *lanyard.TOTPEnrollment, error) {
	secret := make([]byte, totpSecretSize)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for the authenticator secret")
	}
	setup, err := totpSetup(u.Login, secret)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := s.sealer.Seal(secret, totpAAD(u.ID))
	if err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "sealing the authenticator secret failed")
	}
	return setup, &lanyard.TOTPEnrollment{UserID: u.ID, SealedSecret: sealed, CreatedAt: s.clock()}, nil
}

// putTOTPEnrollment stores e, replacing an unconfirmed enrollment (and
// saying so) but never a confirmed one.
func putTOTPEnrollment(tx lanyard.Tx, e *lanyard.TOTPEnrollment) (replaced bool, err error) {
	old, err := tx.TOTPEnrollment(e.UserID)
	switch {
	case err == nil && old.Confirmed():
		return false, lanyard.Errorf(lanyard.EConflict, "an authenticator app is already enrolled; remove it first")
	case err == nil:
		replaced = true
	case !lanyard.IsCode(err, lanyard.ENotFound):
		return false, err
	}
	return replaced, tx.PutTOTPEnrollment(e)
}

// PendingTOTPSetup returns the caller's unconfirmed enrollment again (the
// page was reloaded, the QR code image is fetched); ENotFound when none
// waits for confirmation. A confirmed secret is never shown again.
func (s *Service) PendingTOTPSetup(ctx context.Context, p *Principal) (*TOTPSetup, error) {
	if err := selfOnly(p); err != nil {
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	if e == nil || e.Confirmed() {
		return nil, lanyard.Errorf(lanyard.ENotFound, "no authenticator app enrollment waits for confirmation; start one")
	}
	secret, err := s.openTOTP(e)
	if err != nil {
		return nil, err
	}
	return totpSetup(p.User.Login, secret)
}

// ConfirmTOTP confirms the caller's enrollment with a code from the app:
// from then on it counts as the caller's second factor. The code's time
// step is recorded, so it cannot be used again.
func (s *Service) ConfirmTOTP(ctx context.Context, p *Principal, code string) (*TOTPInfo, error) {
	if err := selfOnly(p); err != nil {
		return nil, err
	}
	code, err := normalizeTOTPCode(code)
	if err != nil {
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, p.User.ID)
	switch {
	case err != nil:
		return nil, err
	case e == nil:
		return nil, lanyard.Errorf(lanyard.ENotFound, "no authenticator app enrollment waits for confirmation; start one")
	case e.Confirmed():
		return nil, lanyard.Errorf(lanyard.EConflict, "the authenticator app is already confirmed")
	}
	step, err := s.checkTOTP(e, code)
	if err != nil {
		return nil, err // EInvalid: wrong code or already used
	}
	prev := e.LastStep
	e.ConfirmedAt, e.LastStep = s.clock(), step
	err = s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "totp.confirm", "user", p.User.Login, nil)
	}, func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(e, prev) })
	if err != nil {
		return nil, err
	}
	return totpInfo(p.User.Login, e), nil
}

// ResetTOTP is staff's recovery of another person's lost authenticator
// app (issue 13: recovery by another administrator). One's own is never
// reset this way, only removed with a current code (RemoveTOTP): a stolen
// staff password or session must not be enough to replace the second
// factor. The person's sessions and pending logins end with it
// (RemoveTOTP): the lost phone may be in someone else's hands, and so may
// what was signed in with it.
func (s *Service) ResetTOTP(ctx context.Context, p *Principal, login string) error {
	if p.User != nil && p.User.Login == login {
		return lanyard.Errorf(lanyard.EForbidden, "you cannot reset your own authenticator app: remove it with a current code, or ask another administrator")
	}
	return s.RemoveTOTP(ctx, p, login, "")
}

// RemoveTOTP removes login's authenticator app. Users remove their own
// and must prove it with a current code (code), so that a stolen password
// alone cannot replace the second factor; a user who lost the phone asks
// the help desk: operators remove other users' enrollments without a
// code, and a staff member's only an administrator (CheckAccountChange:
// resetting the second factor is a step towards taking the account).
// Nobody removes their own confirmed enrollment without a code, staff
// included (four eyes). An unconfirmed enrollment is not a factor yet and
// goes without one.
//
// The user's pending logins end with the app they were made for. Removed
// by staff, the user's browser sessions end too (the user logs in again,
// and a staff account enrolls a new app); removed by the user, the
// session that proved the code stays.
func (s *Service) RemoveTOTP(ctx context.Context, p *Principal, login, code string) error {
	if err := selfOnly(p); err != nil {
		return err
	}
	self := login == p.User.Login
	if !self && !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
		return lanyard.Errorf(lanyard.EForbidden, "only operators and administrators can remove another user's authenticator app")
	}
	var u *lanyard.User
	var e *lanyard.TOTPEnrollment
	err := s.view(ctx, func(tx lanyard.Tx) (err error) {
		if u, err = tx.UserByLogin(login); err != nil {
			return err
		}
		if err := CheckAccountChange(p.Roles, AccountChange{Login: u.Login, Self: self, Before: u.Roles, After: u.Roles}); err != nil {
			return err
		}
		e, err = tx.TOTPEnrollment(u.ID)
		return err
	})
	if err != nil {
		return err
	}
	if self && e.Confirmed() {
		if strings.TrimSpace(code) == "" {
			return lanyard.Errorf(lanyard.EStepUpFailed, "enter a current code from the authenticator app to remove it (lost the phone? another operator or administrator can reset it)")
		}
		att, err := s.beginAttempt(LoginThrottleKeys(p.User.Login, p.RemoteAddr))
		if err != nil {
			return err
		}
		defer att.Release()
		if _, err := s.stepUpCode(att, p.User.Login, e, code); err != nil {
			return err
		}
	}
	ended := 0
	return s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "totp.remove", "user", login, map[string]any{"confirmed": e.Confirmed(), "by_staff": !self, "sessions_ended": ended})
	}, func(tx lanyard.Tx) error {
		// Remove what was checked: a concurrent change (re-enrolled,
		// confirmed meanwhile, made staff meanwhile) makes this fail
		// rather than remove something the check did not cover.
		now, err := tx.UserByID(u.ID)
		if err != nil {
			return err
		}
		if err := CheckAccountChange(p.Roles, AccountChange{Login: now.Login, Self: self, Before: now.Roles, After: now.Roles}); err != nil {
			return err
		}
		cur, err := tx.TOTPEnrollment(u.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(cur.SealedSecret, e.SealedSecret) || !cur.ConfirmedAt.Equal(e.ConfirmedAt) {
			return lanyard.Errorf(lanyard.EConflict, "the authenticator app changed meanwhile; try again")
		}
		if self {
			if _, err := tx.DeleteUserLoginChallenges(u.ID); err != nil {
				return err
			}
		} else if ended, err = endSessions(tx, u.ID); err != nil {
			return err
		}
		return tx.DeleteTOTPEnrollment(u.ID)
	})
}

// TOTPStatus says whether login has an authenticator app. Users see their
// own; staff (the roles that may read users) see anyone's.
func (s *Service) TOTPStatus(ctx context.Context, p *Principal, login string) (*TOTPInfo, error) {
	u, err := s.GetUser(ctx, p, login)
	if err != nil {
		return nil, err
	}
	e, err := s.totpEnrollment(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return totpInfo(u.Login, e), nil
}

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
// Errors: EInvalid for a password longer than auth.MaxPasswordInput;
// ESecondFactorRequired when no authenticator app is confirmed;
// EStepUpFailed for a wrong password, a wrong code or a code already
// used (the message says which); ERateLimited while throttled.
func (s *Service) VerifySecondFactor(ctx context.Context, p *Principal, password, code string) error {
	if err := selfOnly(p); err != nil {
		return err
	}
	if len(password) > auth.MaxPasswordInput {
		// Never right, so never hashed nor counted (Login).
		return lanyard.Errorf(lanyard.EInvalid, "a password is at most %d bytes", auth.MaxPasswordInput)
	}
	att, err := s.beginAttempt(LoginThrottleKeys(p.User.Login, p.RemoteAddr))
	if err != nil {
		return err
	}
	defer att.Release()
	var u *lanyard.User
	var e *lanyard.TOTPEnrollment
	err = s.view(ctx, func(tx lanyard.Tx) (err error) {
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
	if !e.Confirmed() {
		return lanyard.Errorf(lanyard.ESecondFactorRequired, msgEnrollFirst)
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
	step, err := s.stepUpCode(att, u.Login, e, code)
	if err != nil {
		return err
	}
	prev := e.LastStep
	e.LastStep = step
	err = s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "totp.verify", "user", u.Login, nil)
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
func (s *Service) stepUpCode(att *auth.Attempt, login string, e *lanyard.TOTPEnrollment, code string) (int64, error) {
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
func (s *Service) checkCode(ctx context.Context, u *lanyard.User, remote, code string, accept func(*lanyard.TOTPEnrollment) error) (*codeCheck, error) {
	att, err := s.beginAttempt(LoginThrottleKeys(u.Login, remote))
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
func (c *codeCheck) record(tx lanyard.Tx, now time.Time) error {
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
func (s *Service) checkTOTP(e *lanyard.TOTPEnrollment, code string) (int64, error) {
	secret, err := s.openTOTP(e)
	if err != nil {
		return 0, err
	}
	b32 := b32NoPad.EncodeToString(secret)
	now := totpStep(s.clock())
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
func (s *Service) beginAttempt(keys []string) (*auth.Attempt, error) {
	att, err := s.throttle.Begin(keys...)
	if err != nil {
		var te *auth.ThrottledError
		wait := time.Second
		if errors.As(err, &te) {
			wait = te.Wait
		}
		return nil, lanyard.Wrap(lanyard.ERateLimited, err, "too many failed logins and codes; try again in "+max(wait, time.Second).Round(time.Second).String())
	}
	return att, nil
}

// refuseStepUp counts a failed step-up and logs it; the password and the
// code are never logged.
func (s *Service) refuseStepUp(att *auth.Attempt, login, reason string) {
	att.Fail()
	s.log.Info("second factor refused", "login", login, "reason", reason)
}

// openTOTP opens e's sealed secret: the raw HMAC key (sealed raw, bound
// to its user by the AAD, so a secret copied to another row fails).
func (s *Service) openTOTP(e *lanyard.TOTPEnrollment) ([]byte, error) {
	secret, err := s.sealer.Open(e.SealedSecret, totpAAD(e.UserID))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the authenticator secret cannot be opened")
	}
	return secret, nil
}

// totpEnrollment reads userID's enrollment; nil when none.
func (s *Service) totpEnrollment(ctx context.Context, userID int64) (*lanyard.TOTPEnrollment, error) {
	var e *lanyard.TOTPEnrollment
	err := s.view(ctx, func(tx lanyard.Tx) (err error) { e, err = tx.TOTPEnrollment(userID); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	return e, err
}

// selfOnly refuses principals without a stored user (the system).
func selfOnly(p *Principal) error {
	if p == nil || p.User == nil || p.User.ID == 0 {
		return lanyard.Errorf(lanyard.EForbidden, "an authenticator app belongs to a user; log in as one")
	}
	return nil
}

// normalizeTOTPCode accepts the code as apps show it ("123 456").
func normalizeTOTPCode(code string) (string, error) {
	c := strings.Join(strings.Fields(code), "")
	if len(c) != TOTPDigits || strings.Trim(c, "0123456789") != "" {
		return "", lanyard.Errorf(lanyard.EInvalid, "the code is the %d digits the authenticator app shows", TOTPDigits)
	}
	return c, nil
}

func totpInfo(login string, e *lanyard.TOTPEnrollment) *TOTPInfo {
	info := &TOTPInfo{Login: login}
	if e != nil {
		info.Enrolled, info.Confirmed, info.CreatedAt, info.ConfirmedAt = true, e.Confirmed(), e.CreatedAt, e.ConfirmedAt
	}
	return info
}

// totpSetup renders the raw secret for login's authenticator app.
func totpSetup(login string, secret []byte) (*TOTPSetup, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: TOTPIssuer, AccountName: login, Period: totpOpts.Period, Secret: secret,
		Digits: totpOpts.Digits, Algorithm: totpOpts.Algorithm,
	})
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "making the authenticator setup failed")
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "drawing the QR code failed")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "encoding the QR code failed")
	}
	return &TOTPSetup{URL: key.URL(), Secret: key.Secret(), QRPNG: buf.Bytes()}, nil
}

var b32NoPad = base32.StdEncoding.WithPadding(base32.NoPadding)
