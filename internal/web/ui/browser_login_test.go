//go:build integration

package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestBrowserStaffLoginSecondFactor: a staff member's first login sets up
// the authenticator app (QR code and key, confirmed with its first code)
// before the console opens; the next login asks for a code; wrong codes
// are refused with the server's message. A plain user still logs in with
// the password alone (TestBrowserLogin).
func TestBrowserStaffLoginSecondFactor(t *testing.T) {
	s := mustSite(t)
	s.mustUser("otto", password, "user", "operator")
	b := mustBrowser(t, s)

	b.LoginStep("otto", password)
	b.WaitFor("enrollment shown", `!document.querySelector('#enroll').hidden`)
	b.WaitFor("QR code loaded", `(() => { const i = document.querySelector('#totp-qr'); return i.complete && i.naturalWidth === 256; })()`)
	b.CheckAccessible("login: enrollment")
	if f := b.Focused(); f != "code" {
		t.Errorf("focus on %q, want the code field", f)
	}
	if got := b.Text("#factor-title"); got != "Set up your authenticator app" {
		t.Errorf("heading %q", got)
	}
	b.Shot("01-enroll")
	// Nothing but the second step is open meanwhile.
	if uitest.Eval[int](b, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/v1/session', false); x.send(); return x.status; })()`) != 401 {
		t.Fatal("the API answers before the second factor")
	}
	b.Visit("/console/")
	if b.Path() != "/login" {
		t.Fatalf("the console opens before the second factor: %s", b.Path())
	}

	b.LoginStep("otto", password) // a new enrollment: the reload dropped the step
	secret := strings.ReplaceAll(uitest.Eval[string](b, `document.querySelector('#totp-secret').value`), " ", "")
	b.Run("wrong code", chromedp.SendKeys(chromedp.CSS("#code"), "000000"+kb.Enter))
	b.WaitFor("refused", `document.querySelector('#factor-error').textContent !== ''`)
	if got := b.Text("#factor-error"); !strings.Contains(got, "Wrong code") {
		t.Errorf("wrong code: %q", got)
	}
	b.Shot("02-wrong-code")
	webtest.RememberTOTP(s.srv.URL, "otto", secret)
	b.SecondFactor("otto")
	b.Settle()
	b.Visit("/console/")
	if b.Path() != "/console/" {
		t.Fatalf("after the enrollment: %s", b.Path())
	}
	b.Shot("03-console")
	if info := totpStatus(t, s, "otto"); !info.Confirmed {
		t.Fatalf("after the first login: %+v", info)
	}

	// Another browser, later: a code.
	b2 := mustBrowser(t, s)
	b2.LoginStep("otto", password)
	b2.WaitFor("code asked", `!document.querySelector('#factor-form').hidden`)
	if !uitest.Eval[bool](b2, `document.querySelector('#enroll').hidden`) || uitest.Eval[string](b2, `document.querySelector('#totp-secret').value`) != "" {
		t.Fatal("the key is shown again")
	}
	b2.CheckAccessible("login: code")
	b2.Shot("04-code")
	b2.SecondFactor("otto")
	b2.Visit("/console/")
	if b2.Path() != "/console/" {
		t.Fatalf("after the code: %s", b2.Path())
	}
}
