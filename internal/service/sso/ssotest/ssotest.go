// Package ssotest connects tests to the real OpenID provider that
// scripts/oidc-test.sh starts (the zitadel/oidc example server) and signs
// its test users in at it the way a browser would, for the single
// sign-on tests that need no browser.
package ssotest

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Env is the provider scripts/oidc-test.sh started.
type Env struct {
	Issuer          string // http://localhost:PORT/
	OtherIssuer     string // a second instance: another issuer, another key
	PublicClient    string // client without secret, loopback redirect URIs on any port
	WebClient       string // confidential client, exact redirect URIs under WebRedirectBase
	WebSecret       string
	WebRedirectBase string
	Password        string   // every test user's password
	Users           []string // alice, oscar, newbie, twin, gone, nobody, unverified
	Domain          string   // the users' e-mail domain
}

// Email is user's e-mail address at the provider.
func (e *Env) Email(user string) string { return user + "@" + e.Domain }

// Get reads LANYARD_TEST_OIDC; the test fails when it is not set.
func Get(tb testing.TB) *Env {
	tb.Helper()
	v := os.Getenv("LANYARD_TEST_OIDC")
	if v == "" {
		tb.Fatal("LANYARD_TEST_OIDC is not set: run `make test`, which starts the OpenID provider and sets it (or: LANYARD_TEST_OIDC=\"$(scripts/oidc-test.sh)\" go test -tags integration …)")
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		kv[k] = val
	}
	e := &Env{Issuer: kv["issuer"], OtherIssuer: kv["other_issuer"], PublicClient: kv["public_client"], WebClient: kv["web_client"],
		WebSecret: kv["web_secret"], WebRedirectBase: kv["web_redirect_base"], Password: kv["password"], Users: strings.Split(kv["users"], ","), Domain: kv["domain"]}
	if e.Issuer == "" || e.OtherIssuer == "" || e.PublicClient == "" || e.Password == "" || e.Domain == "" {
		tb.Fatalf("LANYARD_TEST_OIDC=%q lacks issuer, other_issuer, public_client, password or domain", v)
	}
	return e
}

// SignIn follows authURL (a sign-in request Lanyard made) at the
// provider, signs user in on its login form, and returns the redirect
// back to Lanyard's callback, not followed: the test hands its query to
// the code under test.
func (e *Env) SignIn(tb testing.TB, authURL, user string) *url.URL {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	var back *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/login/oidc/") {
			back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := c.Get(authURL)
	if err != nil {
		tb.Fatalf("provider authorization request: %v", err)
	}
	res.Body.Close()
	id := res.Request.URL.Query().Get("authRequestID")
	if back != nil || id == "" {
		tb.Fatalf("the provider did not show its login form for %s (now at %s, status %d)", authURL, res.Request.URL, res.StatusCode)
	}
	form := url.Values{"id": {id}, "username": {user}, "password": {e.Password}}
	login := res.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	res, err = c.PostForm(login.String(), form)
	if err != nil {
		tb.Fatalf("provider login: %v", err)
	}
	res.Body.Close()
	if back == nil {
		tb.Fatalf("the provider did not send %s back to Lanyard (status %d at %s)", user, res.StatusCode, res.Request.URL)
	}
	return back
}
