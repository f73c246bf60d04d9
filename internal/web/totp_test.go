package web_test

import (
	"bytes"
	"image/png"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func totpCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTOTPAPI enrolls an authenticator app through the API, checks that
// the secret's answers are not cached and that the QR code is a PNG of the
// otpauth URL's size, and resets it as staff.
func TestTOTPAPI(t *testing.T) {
	e := mustEnv(t)
	alice := e.mustUser("alice")
	bob := e.mustUser("bob")
	op := e.mustUser("olivia", lanyard.RoleUser, lanyard.RoleOperator)

	var info apiv1.TOTPInfo
	e.must(200, "GET", "/api/v1/me/totp", alice, nil).json(&info)
	if info.Enrolled || info.Confirmed || info.Login != "alice" {
		t.Fatalf("status before: %+v", info)
	}
	if r := e.do("GET", "/api/v1/me/totp/qr.png", alice, nil); r.status != 404 || r.problem().Code != lanyard.ENotFound {
		t.Fatalf("QR code before enrolling: %d %s", r.status, r.body)
	}

	r := e.must(201, "POST", "/api/v1/me/totp", alice, nil)
	if r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("begin: Cache-Control %q", r.header.Get("Cache-Control"))
	}
	var setup apiv1.TOTPSetup
	r.json(&setup)
	u, err := url.Parse(setup.URL)
	if err != nil || u.Query().Get("secret") != setup.Secret || u.Query().Get("issuer") != "Lanyard" {
		t.Fatalf("otpauth URL %q, secret %q", setup.URL, setup.Secret)
	}

	img := e.must(200, "GET", "/api/v1/me/totp/qr.png", alice, nil)
	if ct, cc := img.header.Get("Content-Type"), img.header.Get("Cache-Control"); ct != "image/png" || cc != "no-store" {
		t.Errorf("QR code: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if !bytes.Equal(img.body, setup.QRPNG) {
		t.Error("the QR code route and the begin answer differ")
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(img.body)); err != nil || cfg.Width != 256 || cfg.Height != 256 {
		t.Fatalf("QR code PNG: %+v %v", cfg, err)
	}
	var again apiv1.TOTPSetup
	e.must(200, "GET", "/api/v1/me/totp/setup", alice, nil).json(&again)
	if again.Secret != setup.Secret || again.URL != setup.URL {
		t.Errorf("setup again: %+v", again)
	}
	if r := e.do("GET", "/api/v1/me/totp/qr.png", bob, nil); r.status != 404 {
		t.Errorf("bob gets a QR code: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/me/totp/qr.png", "", nil); r.status != 401 {
		t.Errorf("QR code without credentials: %d", r.status)
	}

	n := e.auditCount()
	if r := e.do("POST", "/api/v1/me/totp/confirm", alice, map[string]string{"code": "000000"}); r.status != 400 || r.problem().Code != lanyard.EInvalid {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/me/totp/confirm", alice, map[string]any{"code": "1", "extra": true}); r.status != 400 {
		t.Fatalf("unknown field: %d %s", r.status, r.body)
	}
	if got := e.auditCount(); got != n {
		t.Fatalf("refused confirmations wrote %d audit events", got-n)
	}
	e.must(200, "POST", "/api/v1/me/totp/confirm", alice, map[string]string{"code": totpCode(t, setup.Secret)}).json(&info)
	if !info.Confirmed || info.ConfirmedAt.IsZero() {
		t.Fatalf("confirm: %+v", info)
	}
	if r := e.do("POST", "/api/v1/me/totp", alice, nil); r.status != 409 {
		t.Errorf("begin over a confirmed one: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/me/totp/qr.png", alice, nil); r.status != 404 {
		t.Errorf("QR code of a confirmed enrollment: %d", r.status)
	}

	// Users see only their own; removing one's own needs a code (403
	// step_up_failed, not 401: the session stays valid).
	if r := e.do("GET", "/api/v1/users/alice/totp", bob, nil); r.status != 404 {
		t.Errorf("bob reads alice's status: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/users/alice/totp", bob, nil); r.status != 403 {
		t.Errorf("bob resets alice's: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/me/totp", alice, map[string]string{"code": ""}); r.status != 403 || r.problem().Code != lanyard.EStepUpFailed {
		t.Errorf("own removal without a code: %d %s", r.status, r.body)
	}
	e.must(200, "GET", "/api/v1/users/alice/totp", op, nil).json(&info)
	if !info.Confirmed {
		t.Errorf("operator reads alice's status: %+v", info)
	}

	// Lost phone: the operator resets it.
	e.must(204, "DELETE", "/api/v1/users/alice/totp", op, nil)
	e.must(200, "GET", "/api/v1/me/totp", alice, nil).json(&info)
	if info.Enrolled {
		t.Fatalf("after the reset: %+v", info)
	}
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?action=totp.remove", e.admin, nil).json(&evs)
	if len(evs) != 1 || evs[0].Actor != "olivia" || evs[0].ObjectID != "alice" {
		t.Fatalf("audit: %+v", evs)
	}
	if r := e.do("DELETE", "/api/v1/users/alice/totp", op, nil); r.status != 404 {
		t.Errorf("reset twice: %d", r.status)
	}

	// An unconfirmed enrollment is removed without a code.
	e.must(201, "POST", "/api/v1/me/totp", bob, nil)
	e.must(204, "DELETE", "/api/v1/me/totp", bob, map[string]string{})
}
