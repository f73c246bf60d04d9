package ui_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// nextCases are login redirect targets (as the next query parameter reads
// once decoded) and where a signed-in visitor of /login?next=… is sent.
// Browsers drop tabs and newlines and read "\" as "/", so every bad case
// but the schemes would otherwise end on another host.
var nextCases = []struct{ next, want string }{
	{"/workstations", "/workstations"},
	{"/console/users?q=ann", "/console/users?q=ann"},
	{"/card/7#documents", "/card/7#documents"},
	{"/%09/evil.example", "/%09/evil.example"}, // stays an (odd) path on this site
	{"/\t/evil.example", "/"},
	{"/\n/evil.example", "/"},
	{"/\r\n/evil.example", "/"},
	{" //evil.example", "/"},
	{"/ /evil.example", "/"},
	{"/\u00a0/evil.example", "/"},
	{"/\x7f/evil.example", "/"},
	{"//evil.example/", "/"},
	{"/\\evil.example", "/"},
	{"/\\/evil.example", "/"},
	{"\\\\evil.example", "/"},
	{"/x\\..\\\\evil.example", "/"},
	{"https://evil.example/", "/"},
	{"https:/evil.example", "/"},
	{"javascript:alert(1)", "/"},
	{"\tjavascript:alert(1)", "/"},
	{"evil.example", "/"},
	{"", "/"},
}

// Issue 13 item 11: a signed-in visitor of /login?next=… is sent on only
// to a path on this site.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", "correct horse battery")
	ck := s.cookie("ann", "correct horse battery")
	for _, tc := range nextCases {
		p := s.get("/login?next="+url.QueryEscape(tc.next), ck)
		if p.status != 303 || p.header.Get("Location") != tc.want {
			t.Errorf("next=%q: %d → %q, want %q", tc.next, p.status, p.header.Get("Location"), tc.want)
		}
	}
}

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
