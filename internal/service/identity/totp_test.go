package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

const totpPassword = "correct horse battery staple"

type totpEnv struct {
	svc                         *service.Service
	st                          lanyard.Store
	clock                       *servicetest.Clock
	alice, bob, op, auditor, ad *lanyard.Principal
	key                         []byte // the master key
}

// newTOTPEnv starts a service on SQLite with a fake clock 12 s into a
// time step, and users with passwords: alice and bob (users), an
// operator, an auditor and the administrator.
func newTOTPEnv(t *testing.T) *totpEnv { return newTOTPEnvWith(t, servicetest.Options{}) }

// newTOTPEnvWith is newTOTPEnv with o (its store, a wrapper); the clock
// is the env's.
func newTOTPEnvWith(t *testing.T, o servicetest.Options) *totpEnv {
	t.Helper()
	ctx := context.Background()
	clock := servicetest.NewClock(time.Date(2026, time.February, 3, 10, 0, 12, 0, time.UTC)) // TOTP codes depend on the time step
	o.Now = clock.Now
	stack := servicetest.New(t, o)
	svc := stack.Service
	e := &totpEnv{svc: svc, st: stack.Store, clock: clock, key: stack.Key}
	ad := *stack.Admin
	ad.RemoteAddr = "192.0.2.1"
	e.ad = &ad
	mk := func(login string, roles ...lanyard.Role) *lanyard.Principal {
		pw := totpPassword
		rs := lanyard.Roles(roles)
		u, err := svc.Identity.CreateUser(ctx, e.ad, identity.UserInput{Login: login, Password: &pw, Roles: &rs})
		if err != nil {
			t.Fatal(err)
		}
		return &lanyard.Principal{User: u, Roles: u.Roles, RemoteAddr: "192.0.2.10"}
	}
	e.alice, e.bob = mk("alice", lanyard.RoleUser), mk("bob", lanyard.RoleUser)
	e.op, e.auditor = mk("olivia", lanyard.RoleUser, lanyard.RoleOperator), mk("audrey", lanyard.RoleAuditor)
	return e
}

// code is the authenticator app's code for secret at the clock's time
// plus d, computed independently of the service.
func (e *totpEnv) code(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, e.clock.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enroll begins and confirms p's enrollment and returns the secret.
func (e *totpEnv) enroll(t *testing.T, p *lanyard.Principal) string {
	t.Helper()
	setup, err := e.svc.Identity.BeginTOTPEnrollment(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Identity.ConfirmTOTP(context.Background(), p, e.code(t, setup.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	return setup.Secret
}

// snapshot is what a refused call must leave unchanged: the audit log
// and every enrollment.
func (e *totpEnv) snapshot(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{Limit: 100000})
		if err != nil {
			return err
		}
		j, _ := json.Marshal(evs)
		b.Write(j)
		for _, p := range []*lanyard.Principal{e.alice, e.bob, e.op, e.auditor, e.ad} {
			en, err := tx.TOTPEnrollment(p.User.ID)
			if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
				return err
			}
			j, _ := json.Marshal(en)
			b.Write(j)
		}
		return nil
	})
	return b.String()
}

// wantErr checks a refusal's code and message (servicetest.WantErr).
var wantErr = servicetest.WantErr

func TestTOTPEnrollAndConfirm(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	info, err := e.svc.Identity.TOTPStatus(ctx, e.alice, "alice")
	if err != nil || info.Enrolled || info.Confirmed {
		t.Fatalf("status before: %+v %v", info, err)
	}
	first, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	// The URL is what authenticator apps expect (Key Uri Format).
	u, err := url.Parse(first.URL)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Lanyard:alice" {
		t.Fatalf("otpauth URL %q: %v", first.URL, err)
	}
	q := u.Query()
	if q.Get("secret") != first.Secret || q.Get("issuer") != "Lanyard" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Errorf("otpauth URL parameters %v, secret %q", q, first.Secret)
	}
	if len(first.Secret) != 32 { // 160 bits in base32
		t.Errorf("secret %q: %d characters, want 32", first.Secret, len(first.Secret))
	}
	img, err := png.Decode(bytes.NewReader(first.QRPNG))
	if err != nil || img.Bounds().Dx() != 256 || img.Bounds().Dy() != 256 {
		t.Fatalf("QR PNG: %v %v", img, err)
	}
	again, err := e.svc.Identity.PendingTOTPSetup(ctx, e.alice)
	if err != nil || again.URL != first.URL || again.Secret != first.Secret {
		t.Fatalf("PendingTOTPSetup: %+v %v", again, err)
	}

	// An unconfirmed enrollment is replaced by a new one: the old
	// secret's codes no longer confirm.
	second, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil || second.Secret == first.Secret {
		t.Fatalf("second begin: %v (same secret: %v)", err, second != nil && second.Secret == first.Secret)
	}
	info, _ = e.svc.Identity.TOTPStatus(ctx, e.alice, "alice")
	if !info.Enrolled || info.Confirmed {
		t.Fatalf("status after begin: %+v", info)
	}
	// The secret is sealed at rest: neither its bytes nor its base32 are
	// in the row.
	var row *lanyard.TOTPEnrollment
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) { row, err = tx.TOTPEnrollment(e.alice.User.ID); return })
	if bytes.Contains(row.SealedSecret, []byte(second.Secret)) || len(row.SealedSecret) < 40 {
		t.Fatalf("stored secret is not sealed: %x", row.SealedSecret)
	}

	before := e.snapshot(t)
	_, err = e.svc.Identity.ConfirmTOTP(ctx, e.alice, e.code(t, first.Secret, 0))
	wantErr(t, "confirm with the replaced secret's code", err, lanyard.EInvalid, "wrong code")
	_, err = e.svc.Identity.ConfirmTOTP(ctx, e.alice, "12345")
	wantErr(t, "confirm with 5 digits", err, lanyard.EInvalid, "6 digits")
	if e.snapshot(t) != before {
		t.Fatal("a refused confirmation wrote something")
	}

	code := e.code(t, second.Secret, 0)
	info, err = e.svc.Identity.ConfirmTOTP(ctx, e.alice, code[:3]+" "+code[3:])
	if err != nil || !info.Confirmed || !info.ConfirmedAt.Equal(e.clock.Now()) {
		t.Fatalf("confirm: %+v %v", info, err)
	}
	_, err = e.svc.Identity.ConfirmTOTP(ctx, e.alice, e.code(t, second.Secret, 30*time.Second))
	wantErr(t, "confirm twice", err, lanyard.EConflict, "already confirmed")
	_, err = e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	wantErr(t, "begin over a confirmed enrollment", err, lanyard.EConflict, "remove it first")
	_, err = e.svc.Identity.PendingTOTPSetup(ctx, e.alice)
	wantErr(t, "the confirmed secret again", err, lanyard.ENotFound, "no authenticator app enrollment waits")

	// One audit event per change, none with a secret in it.
	evs := e.auditOf(t, "totp.")
	if got := actions(evs); got != "totp.begin totp.begin totp.confirm" {
		t.Errorf("audit events %q", got)
	}
	e.wantNoSecrets(t, first.Secret, second.Secret, code, totpPassword)
}

// The code of the current step and of one step either side is accepted;
// two steps away is not (RFC 6238, 5.2).
func TestTOTPSkew(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		steps int
		ok    bool
	}{{-2, false}, {-1, true}, {0, true}, {1, true}, {2, false}} {
		login := "skew" + strings.ReplaceAll(time.Duration(tc.steps).String(), "-", "m")
		pw := totpPassword
		u, err := e.svc.Identity.CreateUser(ctx, e.ad, identity.UserInput{Login: login, Password: &pw})
		if err != nil {
			t.Fatal(err)
		}
		p := &lanyard.Principal{User: u, Roles: u.Roles}
		setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Identity.ConfirmTOTP(ctx, p, e.code(t, setup.Secret, time.Duration(tc.steps)*identity.TOTPPeriod))
		if tc.ok && err != nil {
			t.Errorf("%+d steps: %v", tc.steps, err)
		}
		if !tc.ok {
			wantErr(t, "code "+time.Duration(tc.steps).String()+" steps away", err, lanyard.EInvalid, "wrong code")
		}
	}
}

func TestVerifySecondFactor(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, "123456")
	wantErr(t, "no authenticator", err, lanyard.ESecondFactorRequired, "enroll an authenticator app in Self-Service first")
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, setup.Secret, 0))
	wantErr(t, "unconfirmed authenticator", err, lanyard.ESecondFactorRequired, "enroll an authenticator app")
	confirmCode := e.code(t, setup.Secret, 0)
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, e.alice, confirmCode); err != nil {
		t.Fatal(err)
	}

	// The confirmation used this step's code: it cannot be used again.
	before := e.snapshot(t)
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, confirmCode)
	wantErr(t, "the confirmation's code", err, lanyard.EStepUpFailed, "already used")
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, "wrong password, long enough", e.code(t, setup.Secret, 30*time.Second))
	wantErr(t, "wrong password", err, lanyard.EStepUpFailed, "wrong password")
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, "000000")
	wantErr(t, "wrong code", err, lanyard.EStepUpFailed, "wrong code")
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, setup.Secret, -60*time.Second))
	wantErr(t, "a code two steps old", err, lanyard.EStepUpFailed, "wrong code")
	if e.snapshot(t) != before {
		t.Fatal("a refused step-up wrote something")
	}

	// From another address: the four failures above stay on this one's
	// throttle key (a success clears only the account's), and one more
	// would lock it.
	alice := *e.alice
	alice.RemoteAddr = "192.0.2.11"
	e.alice = &alice
	e.clock.Add(identity.TOTPPeriod)
	code := e.code(t, setup.Secret, 0)
	if err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, code); err != nil {
		t.Fatalf("step-up: %v", err)
	}
	before = e.snapshot(t)
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, code)
	wantErr(t, "replay", err, lanyard.EStepUpFailed, "already used")
	// The previous step's code is within the skew but older than the one
	// used: refused too.
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, setup.Secret, -identity.TOTPPeriod))
	wantErr(t, "an older step", err, lanyard.EStepUpFailed, "already used")
	if e.snapshot(t) != before {
		t.Fatal("a refused replay wrote something")
	}
	// The next step's code (clock drift) is fine, and then the current
	// step's is a replay.
	if err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, setup.Secret, identity.TOTPPeriod)); err != nil {
		t.Fatalf("step-up with the next step's code: %v", err)
	}
	e.clock.Add(identity.TOTPPeriod)
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, setup.Secret, 0))
	wantErr(t, "the step already used through drift", err, lanyard.EStepUpFailed, "already used")

	// Bob's password does not help alice's step-up; bob has no factor.
	err = e.svc.Identity.VerifySecondFactor(ctx, e.bob, totpPassword, e.code(t, setup.Secret, 30*time.Second))
	wantErr(t, "bob without an authenticator", err, lanyard.ESecondFactorRequired, "enroll")

	if got := actions(e.auditOf(t, "totp.verify")); got != "totp.verify totp.verify" {
		t.Errorf("audit events %q", got)
	}
	e.wantNoSecrets(t, setup.Secret, code, confirmCode, totpPassword)
}

// Concurrent step-ups with one code: exactly one succeeds. The others are
// refused as a replay, or, beyond the throttle's room for failures (an
// attempt counts from before its check), unchecked.
func TestVerifySecondFactorConcurrentReplay(t *testing.T) {
	e := newTOTPEnv(t)
	secret := e.enroll(t, e.alice)
	e.clock.Add(identity.TOTPPeriod)
	code := e.code(t, secret, 0)
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() { errs <- e.svc.Identity.VerifySecondFactor(context.Background(), e.alice, totpPassword, code) }()
	}
	ok := 0
	for range n {
		err := <-errs
		if err == nil {
			ok++
			continue
		}
		if lanyard.IsCode(err, lanyard.ERateLimited) {
			continue
		}
		wantErr(t, "concurrent replay", err, lanyard.EStepUpFailed, "already used")
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent uses of one code succeeded", ok, n)
	}
}

// The step-up shares the login throttle: failures of either lock both,
// and while locked even the right password and code are refused unchecked.
func TestVerifySecondFactorThrottled(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	secret := e.enroll(t, e.alice)
	for i := range 5 {
		e.clock.Add(time.Second)
		err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, "not the password "+string(rune('a'+i)), e.code(t, secret, identity.TOTPPeriod))
		wantErr(t, "wrong password", err, lanyard.EStepUpFailed, "wrong password")
	}
	before := e.snapshot(t)
	err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, secret, identity.TOTPPeriod))
	wantErr(t, "throttled", err, lanyard.ERateLimited, "try again in")
	if e.snapshot(t) != before {
		t.Fatal("a throttled step-up wrote something")
	}
	// The login form uses the same throttle and keys: it is locked too.
	for _, k := range identity.LoginThrottleKeys("alice", "192.0.2.10") {
		if ok, _, _ := e.svc.Identity.LoginThrottle().Allow(ctx, k); ok {
			t.Errorf("login throttle key %s is not locked by the step-up's failures", k)
		}
	}
	// Once the lock is over, the right answer passes and clears it.
	e.clock.Add(31 * time.Second)
	if err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, secret, 0)); err != nil {
		t.Fatalf("after the lock: %v", err)
	}

	// Failed logins (the web layer counts them under the same keys) lock
	// the step-up.
	bobSecret := e.enroll(t, e.bob)
	e.clock.Add(identity.TOTPPeriod)
	for range 5 {
		for _, k := range identity.LoginThrottleKeys("bob", "192.0.2.99") {
			e.svc.Identity.LoginThrottle().Failure(ctx, k)
		}
	}
	err = e.svc.Identity.VerifySecondFactor(ctx, e.bob, totpPassword, e.code(t, bobSecret, 0))
	wantErr(t, "after failed logins", err, lanyard.ERateLimited, "try again")
}

func TestRemoveTOTP(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	secret := e.enroll(t, e.alice)

	before := e.snapshot(t)
	err := e.svc.Identity.RemoveTOTP(ctx, e.bob, "alice", "")
	wantErr(t, "a user removes another's", err, lanyard.EForbidden, "only operators and administrators")
	err = e.svc.Identity.RemoveTOTP(ctx, e.auditor, "alice", "")
	wantErr(t, "an auditor removes another's", err, lanyard.EForbidden, "only operators and administrators")
	_, err = e.svc.Identity.TOTPStatus(ctx, e.bob, "alice")
	wantErr(t, "a user reads another's status", err, lanyard.ENotFound, "not found")
	// Removing one's own confirmed authenticator needs a current code.
	err = e.svc.Identity.RemoveTOTP(ctx, e.alice, "alice", "")
	wantErr(t, "own removal without a code", err, lanyard.EStepUpFailed, "enter a current code")
	err = e.svc.Identity.RemoveTOTP(ctx, e.alice, "alice", "000000")
	wantErr(t, "own removal with a wrong code", err, lanyard.EStepUpFailed, "wrong code")
	err = e.svc.Identity.RemoveTOTP(ctx, e.alice, "alice", e.code(t, secret, 0))
	wantErr(t, "own removal with the used code", err, lanyard.EStepUpFailed, "already used")
	if e.snapshot(t) != before {
		t.Fatal("a refused removal wrote something")
	}
	if err := e.svc.Identity.RemoveTOTP(ctx, e.alice, "alice", e.code(t, secret, identity.TOTPPeriod)); err != nil {
		t.Fatalf("own removal: %v", err)
	}
	info, err := e.svc.Identity.TOTPStatus(ctx, e.alice, "alice")
	if err != nil || info.Enrolled {
		t.Fatalf("status after removal: %+v %v", info, err)
	}

	// Lost phone: an operator resets it without a code; an auditor sees
	// the state.
	e.enroll(t, e.alice)
	if info, err := e.svc.Identity.TOTPStatus(ctx, e.auditor, "alice"); err != nil || !info.Confirmed {
		t.Fatalf("auditor reads alice's status: %+v %v", info, err)
	}
	if err := e.svc.Identity.RemoveTOTP(ctx, e.op, "alice", ""); err != nil {
		t.Fatalf("operator resets alice's: %v", err)
	}
	err = e.svc.Identity.VerifySecondFactor(ctx, e.alice, totpPassword, e.code(t, secret, 0))
	wantErr(t, "step-up after the reset", err, lanyard.ESecondFactorRequired, "enroll")
	err = e.svc.Identity.RemoveTOTP(ctx, e.op, "alice", "")
	wantErr(t, "reset twice", err, lanyard.ENotFound, "no authenticator app")
	// Staff do not skip their own code (four eyes).
	e.enroll(t, e.op)
	err = e.svc.Identity.RemoveTOTP(ctx, e.op, "olivia", "")
	wantErr(t, "operator removes own without a code", err, lanyard.EStepUpFailed, "enter a current code")
	if err := e.svc.Identity.RemoveTOTP(ctx, e.ad, "olivia", ""); err != nil {
		t.Fatalf("administrator resets the operator's: %v", err)
	}
	// An unconfirmed enrollment is not a factor: removed without a code.
	if _, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.bob); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Identity.RemoveTOTP(ctx, e.bob, "bob", ""); err != nil {
		t.Fatalf("removing an unconfirmed enrollment: %v", err)
	}

	evs := e.auditOf(t, "totp.remove")
	if len(evs) != 4 {
		t.Fatalf("%d totp.remove events, want 4", len(evs))
	}
	var d map[string]any
	json.Unmarshal(evs[1].Details, &d)
	if evs[1].Actor != "olivia" || evs[1].ObjectID != "alice" || d["by_staff"] != true {
		t.Errorf("reset event %+v", evs[1])
	}
}

func (e *totpEnv) auditOf(t *testing.T, prefix string) []*lanyard.AuditEvent {
	t.Helper()
	var evs []*lanyard.AuditEvent
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Limit: 100000})
		return err
	})
	var out []*lanyard.AuditEvent
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, prefix) {
			out = append(out, ev)
		}
	}
	// Oldest first.
	if len(out) > 1 && out[0].Seq > out[len(out)-1].Seq {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// wantNoSecrets checks that no audit event carries any of the secrets.
func (e *totpEnv) wantNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	j, _ := json.Marshal(e.auditOf(t, ""))
	for _, s := range secrets {
		if bytes.Contains(j, []byte(s)) {
			t.Errorf("the audit log contains %q", s)
		}
	}
}

func actions(evs []*lanyard.AuditEvent) string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return strings.Join(out, " ")
}
