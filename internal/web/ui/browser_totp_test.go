//go:build integration

package ui_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

func totpCodeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// totpStatus asks the API (as the administrator) about login's
// authenticator app.
func totpStatus(t *testing.T, s *site, login string) apiv1.TOTPInfo {
	t.Helper()
	code, body := s.api("GET", "/api/v1/users/"+login+"/totp", nil)
	var info apiv1.TOTPInfo
	if code != 200 || json.Unmarshal(body, &info) != nil {
		t.Fatalf("status of %s: %d %s", login, code, body)
	}
	return info
}

// TestBrowserAuthenticatorApp enrolls an authenticator app in Self-Service
// the way a person does: the QR code shown is compared pixel for pixel
// with an independent rendering of the otpauth URL for the key shown next
// to it (no pure-Go QR decoder is at hand; equal pixels prove the image
// encodes that URL), a code computed from that key confirms it by
// keyboard, and a later code removes it.
func TestBrowserAuthenticatorApp(t *testing.T) {
	s := mustSite(t)
	s.mustUser("alice", password)
	b := mustBrowser(t, s)
	b.Login("alice", password)

	b.Visit("/authenticator")
	b.CheckAccessible("authenticator app")
	if got := b.Text("#totp-status"); !strings.Contains(got, "no authenticator app yet") {
		t.Fatalf("status %q", got)
	}
	if n := uitest.Eval[int](b, `document.querySelectorAll('nav a[aria-current=page][href="/authenticator"]').length`); n != 1 {
		t.Errorf("the navigation does not mark Authenticator app as current")
	}
	b.Shot("01-none")

	b.Run("set up", chromedp.Click(chromedp.CSS("#totp-begin")))
	b.WaitFor("QR code loaded", `(() => { const i = document.querySelector('#totp-qr'); return i.complete && i.naturalWidth > 0; })()`)
	if f := b.Focused(); f != "totp-code" {
		t.Errorf("after Set up focus is on %q, want the code field", f)
	}
	b.CheckAccessible("enrollment")
	b.Shot("02-enroll")
	if w, h := uitest.Eval[int](b, `document.querySelector('#totp-qr').naturalWidth`), uitest.Eval[int](b, `document.querySelector('#totp-qr').naturalHeight`); w != 256 || h != 256 {
		t.Fatalf("QR code is %dx%d, want 256x256", w, h)
	}
	shown := uitest.Eval[string](b, `document.querySelector('#totp-secret').value`)
	secret := strings.ReplaceAll(shown, " ", "")
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("the key shown %q is not 160 bits of base32: %v", shown, err)
	}

	// The pixels the page shows, read back through a canvas (same origin,
	// so not tainted), against the otpauth URL for alice and this key.
	dataURL := uitest.Eval[string](b, `(() => { const i = document.querySelector('#totp-qr'); const c = document.createElement('canvas');
		c.width = i.naturalWidth; c.height = i.naturalHeight; c.getContext('2d').drawImage(i, 0, 0); return c.toDataURL('image/png'); })()`)
	pngBytes, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURL, "data:image/png;base64,"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Lanyard", AccountName: "alice", Secret: raw, Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	want, err := key.Image(256, 256)
	if err != nil {
		t.Fatal(err)
	}
	if diff := pixelDiff(got, want); diff != 0 {
		t.Fatalf("the QR code shown differs from %s in %d pixels", key.URL(), diff)
	}
	if info := totpStatus(t, s, "alice"); !info.Enrolled || info.Confirmed {
		t.Fatalf("after Set up: %+v", info)
	}

	// A wrong code is refused with the server's message, focus back on
	// the field.
	b.Run("wrong code", chromedp.SendKeys(chromedp.CSS("#totp-code"), "000000"+kb.Enter))
	b.WaitFor("refused", `document.querySelector('#totp-error').textContent !== ''`)
	if got := b.Text("#totp-error"); !strings.Contains(got, "Wrong code") {
		t.Errorf("wrong code: %q", got)
	}
	if f := b.Focused(); f != "totp-code" {
		t.Errorf("after a wrong code focus is on %q", f)
	}

	uitest.Eval[bool](b, `(document.querySelector('#totp-code').value = '') === ''`)
	b.Run("confirm by keyboard", chromedp.SendKeys(chromedp.CSS("#totp-code"), totpCodeAt(t, secret, time.Now())+kb.Enter))
	b.WaitFor("confirmed", `document.querySelector('#totp-status').textContent.includes('confirmed')`)
	b.Shot("03-confirmed")
	if info := totpStatus(t, s, "alice"); !info.Confirmed {
		t.Fatalf("after Confirm: %+v", info)
	}
	if uitest.Eval[bool](b, `!document.querySelector('#totp-enroll').hidden || document.querySelector('#totp-secret').value !== ''`) {
		t.Error("the key is still shown after confirmation")
	}

	// A reload shows the state and never the key again.
	b.Visit("/authenticator")
	if got := b.Text("#totp-status"); !strings.Contains(got, "is confirmed") {
		t.Fatalf("after reload: %q", got)
	}
	b.CheckAccessible("confirmed")

	// Removing needs a code newer than the one used to confirm: the next
	// time step's (within the accepted drift of one step).
	b.Run("remove", chromedp.SendKeys(chromedp.CSS("#totp-remove-code"), totpCodeAt(t, secret, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS("#totp-remove-form button[type=submit]")))
	b.WaitFor("removed", `document.querySelector('#totp-status').textContent.includes('removed')`)
	b.Shot("04-removed")
	if info := totpStatus(t, s, "alice"); info.Enrolled {
		t.Fatalf("after Remove: %+v", info)
	}
	if uitest.Eval[bool](b, `document.querySelector('#totp-start').hidden`) {
		t.Error("after Remove the page does not offer a new set-up")
	}
}

// TestBrowserConsoleResetsAuthenticator: an operator resets a user's
// authenticator app (a lost phone) from the console's user dialog.
func TestBrowserConsoleResetsAuthenticator(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olivia", password, "user", "operator")
	s.mustUser("carol", password)
	ctx := context.Background()
	svc := s.srv.Service
	admin := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	u, err := svc.Identity.GetUser(ctx, admin, "carol")
	if err != nil {
		t.Fatal(err)
	}
	carol := &lanyard.Principal{User: u, Roles: u.Roles}
	setup, err := svc.Identity.BeginTOTPEnrollment(ctx, carol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Identity.ConfirmTOTP(ctx, carol, totpCodeAt(t, setup.Secret, time.Now())); err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, s)
	b.Login("olivia", password)
	b.Visit("/console/users?q=carol")
	b.Run("edit carol", chromedp.Click(chromedp.CSS(`button[aria-label="Edit carol"]`)))
	b.WaitFor("authenticator state", `document.querySelector('#u-totp-status').textContent.startsWith('Confirmed')`)
	b.CheckAccessible("user dialog")
	b.Shot("01-user-dialog")
	b.Run("reset", chromedp.Click(chromedp.CSS("#u-totp-reset")))
	b.WaitFor("confirmation asked", `[...document.querySelectorAll('dialog[open] button.danger')].some(x => x.textContent === 'Reset authenticator')`)
	b.Shot("02-confirm")
	b.Run("confirm", chromedp.Click(chromedp.CSS(`dialog[aria-labelledby=confirm-title] button.danger`)))
	b.WaitFor("reset", `document.querySelector('#u-totp-status').textContent.startsWith('Reset.')`)
	b.Shot("03-reset")
	if info := totpStatus(t, s, "carol"); info.Enrolled {
		t.Fatalf("after the reset: %+v", info)
	}
	if uitest.Eval[bool](b, `!document.querySelector('#u-totp-reset').hidden`) {
		t.Error("the Reset button is still offered with nothing to reset")
	}
	if f := b.Focused(); f != "u-totp-status" {
		t.Errorf("after the reset focus is on %q, want the authenticator status", f)
	}
}

// pixelDiff counts the pixels whose gray level differs between a and b.
func pixelDiff(a, b image.Image) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			ar, ag, ab, _ := a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y).RGBA()
			br, bg, bb, _ := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			if (ar+ag+ab)/3>>8 != (br+bg+bb)/3>>8 {
				n++
			}
		}
	}
	return n
}
