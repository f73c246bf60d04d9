//go:build integration

package ui_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/service/sso/ssotest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// The single sign-on in Chromium, against the real OpenID provider of
// scripts/oidc-test.sh: the login page's button, the provider's own login
// form, the redirect back and the session Lanyard opens.

// oidcSite is a site with the provider "zitadel" connected (its public
// client; the test server's callback is a loopback URI, which the
// provider accepts on any port).
func oidcSite(t *testing.T, settings map[string]any) (*site, *ssotest.Env) {
	t.Helper()
	env := ssotest.Get(t)
	s := mustSite(t)
	in := map[string]any{"name": "zitadel", "display_name": "Zitadel", "issuer": env.Issuer, "client_id": env.PublicClient, "self_service": true}
	for k, v := range settings {
		in[k] = v
	}
	if code, b := s.api("POST", "/api/v1/oidc-providers", in); code != 201 {
		t.Fatalf("connect the provider: %d %s", code, b)
	}
	return s, env
}

// mustSSOUser makes a Lanyard account whose e-mail and UPN are the
// provider user's e-mail.
func (s *site) mustSSOUser(env *ssotest.Env, login string, roles ...string) {
	s.t.Helper()
	if len(roles) == 0 {
		roles = []string{"user"}
	}
	in := map[string]any{"login": login, "display_name": "User " + login, "email": env.Email(login), "upn": env.Email(login), "password": password, "roles": roles}
	if code, b := s.api("POST", "/api/v1/users", in); code != 201 {
		s.t.Fatalf("create user %s: %d %s", login, code, b)
	}
}

// ssoSignIn clicks the login page's provider button (at /login?next=next)
// and signs user in on the provider's own form; it returns when the
// browser is back at Lanyard.
func ssoSignIn(t *testing.T, b *uitest.Browser, env *ssotest.Env, next, user string) {
	t.Helper()
	b.Visit("/login?next=" + next)
	b.WaitFor("provider button", `[...document.querySelectorAll('#sso-buttons a')].some(a => a.textContent === 'Sign in with Zitadel')`)
	b.Shot("sso-1-login")
	b.Run("click the provider's button", chromedp.Click(chromedp.CSS("#sso-buttons a")))
	b.WaitFor("the provider's login form", `location.origin === `+uitest.JSString(strings.TrimSuffix(env.Issuer, "/"))+` && !!document.querySelector('#username')`)
	b.Shot("sso-2-provider")
	b.Run("sign in at the provider as "+user,
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), env.Password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
	b.WaitFor("back at Lanyard", `location.origin !== `+uitest.JSString(strings.TrimSuffix(env.Issuer, "/")))
	b.Settle()
}

// whoami is the browser's session as the API sees it ("" when none).
func whoami(b *uitest.Browser) string {
	return uitest.Eval[string](b, `(() => { const x = new XMLHttpRequest(); x.open('GET', '/api/v1/session', false); x.send(); return x.status === 200 ? JSON.parse(x.responseText).user.login : ''; })()`)
}

// TestBrowserOIDCSelfService: a user signs in to Self-Service through the
// provider's button and lands on their cards with a session.
func TestBrowserOIDCSelfService(t *testing.T) {
	s, env := oidcSite(t, nil)
	s.mustSSOUser(env, "alice")
	b := mustBrowser(t, s)
	ssoSignIn(t, b, env, "/", "alice")
	if b.Path() != "/" || whoami(b) != "alice" {
		t.Fatalf("after the sign-in: at %s as %q, want / as alice", b.Path(), whoami(b))
	}
	b.Shot("sso-3-self-service")
	b.CheckAccessible("self-service after single sign-on")
}

// TestBrowserOIDCConsoleTOTP: an operator signs in to the console through
// the provider, which asserts no second factor Lanyard counts (amr pwd),
// so Lanyard's own second step follows: the authenticator app's set-up on
// the login page, then the console. Once the provider's amr counts, the
// console opens straight away.
func TestBrowserOIDCConsoleTOTP(t *testing.T) {
	// A staff account is first bound to its provider subject only by a
	// UPN match (an administrator sets UPNs): the provider's verified
	// email claim is matched with the UPN the administrator gives oscar.
	s, env := oidcSite(t, map[string]any{"console": true, "amr": []string{"mfa", "hwk"}, "match_attribute": "upn"})
	s.mustSSOUser(env, "oscar", "user", "operator")
	b := mustBrowser(t, s)
	ssoSignIn(t, b, env, "/console/", "oscar")
	if b.Path() != "/login" {
		t.Fatalf("after the provider: at %s, want the login page's second step", b.Path())
	}
	b.WaitFor("second step shown", `!document.querySelector('#factor-form').hidden`)
	if whoami(b) != "" {
		t.Fatal("a session before Lanyard's second factor")
	}
	b.Shot("sso-3-second-factor")
	b.CheckAccessible("login: second factor after single sign-on")
	b.SecondFactor("oscar")
	b.Settle()
	if b.Path() != "/console/" || whoami(b) != "oscar" {
		t.Fatalf("after the second factor: at %s as %q, want /console/ as oscar", b.Path(), whoami(b))
	}
	b.Shot("sso-4-console")

	// Only providers enabled for the console are offered on its login.
	if code, body := s.api("PATCH", "/api/v1/oidc-providers/zitadel", map[string]any{"console": false}); code != 200 {
		t.Fatalf("turn the console off: %d %s", code, body)
	}
	b2 := mustBrowser(t, s)
	b2.Visit("/login?next=/console/")
	if !uitest.Eval[bool](b2, `document.querySelector('#sso').hidden`) {
		t.Error("a provider button on the console's login with no provider enabled for it")
	}

	// When the provider's amr is one the administrator counts (here the
	// example provider's "pwd", only to see it taken), the console opens
	// without Lanyard's second step.
	if code, body := s.api("PATCH", "/api/v1/oidc-providers/zitadel", map[string]any{"console": true, "amr": []string{"pwd"}}); code != 200 {
		t.Fatalf("count amr pwd: %d %s", code, body)
	}
	b3 := mustBrowser(t, s)
	ssoSignIn(t, b3, env, "/console/", "oscar")
	if b3.Path() != "/console/" || whoami(b3) != "oscar" {
		t.Fatalf("with the provider's second factor: at %s as %q, want /console/ as oscar", b3.Path(), whoami(b3))
	}
}

// TestBrowserOIDCJustInTime: with just-in-time creation a person the
// provider knows and Lanyard does not gets an account (role user, source
// oidc) and Self-Service; without it the sign-in ends on a page saying
// there is no account.
func TestBrowserOIDCJustInTime(t *testing.T) {
	s, env := oidcSite(t, map[string]any{"jit": true})
	b := mustBrowser(t, s)
	ssoSignIn(t, b, env, "/", "newbie")
	if b.Path() != "/" || whoami(b) != "newbie" {
		t.Fatalf("after a just-in-time sign-in: at %s as %q", b.Path(), whoami(b))
	}
	code, body := s.api("GET", "/api/v1/users/newbie", nil)
	var u struct {
		Source string   `json:"source"`
		Roles  []string `json:"roles"`
		Email  string   `json:"email"`
	}
	if code != 200 || json.Unmarshal(body, &u) != nil || u.Source != "oidc" || strings.Join(u.Roles, ",") != "user" || u.Email != env.Email("newbie") {
		t.Fatalf("the new account: %d %s", code, body)
	}

	if code, body := s.api("PATCH", "/api/v1/oidc-providers/zitadel", map[string]any{"jit": false}); code != 200 {
		t.Fatalf("turn just in time off: %d %s", code, body)
	}
	b2 := mustBrowser(t, s)
	ssoSignIn(t, b2, env, "/", "nobody")
	if got := b2.Text("main"); !strings.Contains(got, "Sign-in failed") || !strings.Contains(got, "no Lanyard account has the email "+env.Email("nobody")) {
		t.Errorf("sign-in without an account shows %q", got)
	}
	b2.Shot("sso-refused")
	if whoami(b2) != "" {
		t.Error("a session after the refusal")
	}
	if code, _ := s.api("GET", "/api/v1/users/nobody", nil); code != 404 {
		t.Errorf("an account for nobody: %d", code)
	}
}

// TestBrowserOIDCConsolePage: an administrator connects the provider on
// the console's Single sign-on page (the client secret typed is sealed:
// the page and the API say only that one is set), a user signs in with
// it, and the administrator disconnects it again.
func TestBrowserOIDCConsolePage(t *testing.T) {
	env := ssotest.Get(t)
	s := mustSite(t)
	s.mustUser("ada", password, "user", "administrator")
	s.mustSSOUser(env, "alice")
	b := mustBrowser(t, s)
	b.Login("ada", password)
	b.Visit("/console/sso")
	b.CheckAccessible("console: single sign-on")
	b.Run("connect the provider",
		chromedp.SendKeys(chromedp.CSS("#sso-name"), "zitadel"),
		chromedp.SendKeys(chromedp.CSS("#sso-display"), "Zitadel"),
		chromedp.SendKeys(chromedp.CSS("#sso-issuer"), env.Issuer),
		chromedp.SendKeys(chromedp.CSS("#sso-client"), env.PublicClient),
		chromedp.SendKeys(chromedp.CSS("#sso-secret"), "typed secret"),
		chromedp.Click(chromedp.CSS("#sso-self")),
		chromedp.Click(chromedp.CSS("#sso-save")),
	)
	b.WaitFor("connected", `document.querySelector('#sso-status').textContent.includes('is connected')`)
	if !strings.Contains(b.Text("#sso-list"), "/login/oidc/zitadel/callback") || !strings.Contains(b.Text("#sso-list"), "secret set") {
		t.Fatalf("the list after connecting: %q", b.Text("#sso-list"))
	}
	b.Shot("sso-console-connected")
	if strings.Contains(uitest.Eval[string](b, `document.body.innerHTML`), "typed secret") {
		t.Fatal("the page shows the client secret")
	}
	// The example provider's client is public: the secret goes again.
	b.Run("change the provider", chromedp.Click(chromedp.CSS(`button[aria-label="Change Zitadel"]`)))
	b.Run("remove the secret", chromedp.Click(chromedp.CSS("#sso-secret-clear")), chromedp.Click(chromedp.CSS("#sso-save")))
	b.WaitFor("saved", `document.querySelector('#sso-status').textContent.includes('is saved')`)
	if code, body := s.api("GET", "/api/v1/oidc-providers/zitadel", nil); code != 200 || strings.Contains(string(body), "typed secret") || !strings.Contains(string(body), `"client_secret_set":false`) {
		t.Fatalf("the provider after the change: %d %s", code, body)
	}

	u := mustBrowser(t, s)
	ssoSignIn(t, u, env, "/", "alice")
	if whoami(u) != "alice" {
		t.Fatalf("alice after signing in with the provider connected on the page: %q at %s", whoami(u), u.Path())
	}

	b.Run("disconnect", chromedp.Click(chromedp.CSS(`button[aria-label="Disconnect Zitadel"]`)))
	b.Run("confirm", chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
	b.WaitFor("disconnected", `document.querySelector('#sso-status').textContent.includes('is disconnected')`)
	if code, _ := s.api("GET", "/api/v1/oidc-providers/zitadel", nil); code != 404 {
		t.Fatalf("the provider after disconnecting: %d", code)
	}
}

// TestOIDCBeginLimit: GET /login/oidc/{name} needs no authentication
// and stores a sign-in, so one address gets at most
// sso.MaxLoginsPerAddress under way, then a 429 page. A next past
// sso.MaxNext still starts one (kept as "/", which the sso package's
// TestOIDCBeginBounded checks).
func TestOIDCBeginLimit(t *testing.T) {
	s, _ := oidcSite(t, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(next string) *http.Response {
		t.Helper()
		res, err := client.Get(s.srv.URL + "/login/oidc/zitadel?next=" + url.QueryEscape(next))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	if res := get("/" + strings.Repeat("a", 3000)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a long next: %d, want 303 to the provider", res.StatusCode)
	}
	for i := 1; i < sso.MaxLoginsPerAddress; i++ {
		if res := get("/"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in %d: %d, want 303", i+1, res.StatusCode)
		}
	}
	if res := get("/"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("sign-in %d under way: %d, want 429", sso.MaxLoginsPerAddress+1, res.StatusCode)
	}
}
