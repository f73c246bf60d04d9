//go:build integration

package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// Issue 13 item 11 in a real browser: logging in from
// /login?next=/%09/evil.example (the script's redirect) and visiting it
// signed in (the server's) both stay on this site, while an ordinary next
// still works.
func TestBrowserLoginRedirectStaysOnSite(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ulla", password) // a plain user: no second factor at login
	b := mustBrowser(t, s)
	login := func(next string) {
		t.Helper()
		b.Visit("/login?next=" + next)
		b.Run("log in from next="+next,
			chromedp.SendKeys(chromedp.CSS("#login"), "ulla"),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
		)
		b.WaitFor("left the login page", `location.pathname !== '/login'`)
		b.Settle()
	}
	onSite := func(what, wantPath string) {
		t.Helper()
		if o := uitest.Eval[string](b, `location.origin`); o != s.srv.URL || b.Path() != wantPath {
			t.Fatalf("%s: at %s%s, want %s%s", what, o, b.Path(), s.srv.URL, wantPath)
		}
	}

	login("/workstations")
	onSite("login with next=/workstations", "/workstations")

	// Signed in: the server answers /login with a redirect.
	b.Visit("/login?next=/%09/evil.example")
	onSite("signed-in visit of next=/%09/evil.example", "/")

	b.Run("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.WaitFor("logged out", `location.pathname === '/login' && document.querySelector('#login-form')`)

	// Not signed in: the login script decides where to go.
	login("/%09/evil.example")
	onSite("login with next=/%09/evil.example", "/")
	if !strings.Contains(b.Text("h1"), "Your cards") {
		t.Errorf("after login the page is %q", b.Text("h1"))
	}
}
