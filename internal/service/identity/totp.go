package identity

import (
	"bytes"
	"context"
	"encoding/base32"
	"image/png"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

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

var totpOpts = totp.ValidateOpts{Period: uint(TOTPPeriod / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPSetup is what an authenticator app needs to enroll: the otpauth://
// URL (as a QR code, or typed in as the base32 secret).
type TOTPSetup struct {
	URL    string
	Secret string // base32 without padding, for manual entry
	QRPNG  []byte // the URL as a QR code, PNG
}

// TOTPInfo says whether a user has an authenticator app.
type TOTPInfo struct {
	Login       string
	Enrolled    bool // an enrollment exists, confirmed or not
	Confirmed   bool // it counts as a second factor
	CreatedAt   time.Time
	ConfirmedAt time.Time
}

func totpAAD(userID int64) []byte { return []byte("totp-secret:" + strconv.FormatInt(userID, 10)) }

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / int64(TOTPPeriod/time.Second) }

// BeginTOTPEnrollment makes a new authenticator app secret for the caller
// and returns it for the app. It replaces an unconfirmed enrollment; a
// confirmed one must be removed first (RemoveTOTP, which asks for a
// current code), so that someone who learnt the password cannot swap the
// authenticator for their own.
func (s *Identity) BeginTOTPEnrollment(ctx context.Context, p *lanyard.Principal) (*TOTPSetup, error) {
	if err := selfOnly(p); err != nil {
		return nil, err
	}
	setup, e, err := s.newTOTPEnrollment(p.User)
	if err != nil {
		return nil, err
	}
	replaced := false
	err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) {
		if replaced, err = putTOTPEnrollment(tx, e); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "totp.begin", "user", p.User.Login, map[string]any{"replaced": replaced}))
	})
	if err != nil {
		return nil, err
	}
	return setup, nil
}

// newTOTPEnrollment makes a new authenticator app secret for u: the setup
// to show and the enrollment to store (sealed, unconfirmed).
func (s *Identity) newTOTPEnrollment(u *lanyard.User) (*TOTPSetup, *lanyard.TOTPEnrollment, error) {
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
	return setup, &lanyard.TOTPEnrollment{UserID: u.ID, SealedSecret: sealed, CreatedAt: s.rec.Clock()}, nil
}

// putTOTPEnrollment stores e, replacing an unconfirmed enrollment (and
// saying so) but never a confirmed one.
func putTOTPEnrollment(tx lanyard.CredentialStore, e *lanyard.TOTPEnrollment) (replaced bool, err error) {
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
func (s *Identity) PendingTOTPSetup(ctx context.Context, p *lanyard.Principal) (*TOTPSetup, error) {
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
func (s *Identity) ConfirmTOTP(ctx context.Context, p *lanyard.Principal, code string) (*TOTPInfo, error) {
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
	e.ConfirmedAt, e.LastStep = s.rec.Clock(), step
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "totp.confirm", "user", p.User.Login, nil)
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
func (s *Identity) ResetTOTP(ctx context.Context, p *lanyard.Principal, login string) error {
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
func (s *Identity) RemoveTOTP(ctx context.Context, p *lanyard.Principal, login, code string) error {
	if err := selfOnly(p); err != nil {
		return err
	}
	self := login == p.User.Login
	if !self && !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
		return lanyard.Errorf(lanyard.EForbidden, "only operators and administrators can remove another user's authenticator app")
	}
	var u *lanyard.User
	var e *lanyard.TOTPEnrollment
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
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
		att, err := s.beginAttempt(ctx, LoginThrottleKeys(p.User.Login, p.RemoteAddr))
		if err != nil {
			return err
		}
		defer att.Release()
		if _, err := s.stepUpCode(att, p.User.Login, e, code); err != nil {
			return err
		}
	}
	ended := 0
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "totp.remove", "user", login, map[string]any{"confirmed": e.Confirmed(), "by_staff": !self, "sessions_ended": ended})
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
func (s *Identity) TOTPStatus(ctx context.Context, p *lanyard.Principal, login string) (*TOTPInfo, error) {
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

// openTOTP opens e's sealed secret: the raw HMAC key (sealed raw, bound
// to its user by the AAD, so a secret copied to another row fails).
func (s *Identity) openTOTP(e *lanyard.TOTPEnrollment) ([]byte, error) {
	secret, err := s.sealer.Open(e.SealedSecret, totpAAD(e.UserID))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the authenticator secret cannot be opened")
	}
	return secret, nil
}

// totpEnrollment reads userID's enrollment; nil when none.
func (s *Identity) totpEnrollment(ctx context.Context, userID int64) (*lanyard.TOTPEnrollment, error) {
	var e *lanyard.TOTPEnrollment
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { e, err = tx.TOTPEnrollment(userID); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	return e, err
}

// selfOnly refuses principals without a stored user (the system).
func selfOnly(p *lanyard.Principal) error {
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
