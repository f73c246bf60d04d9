//go:build integration

package sso_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	. "github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/service/sso/ssotest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// These tests sign in at the real OpenID provider of scripts/oidc-test.sh
// (the zitadel/oidc example server): its login form is filled over HTTP
// (ssotest.SignIn), its answer handed to Complete. The browser tests in
// internal/web/ui do the same through Chromium.

type fixture struct {
	env   *ssotest.Env
	stack *servicetest.Stack
	sso   *SSO
}

var remotes atomic.Int64

// remote is a client address of its own per sign-in, so that one test's
// counted failures never throttle another's.
func remote() string { return fmt.Sprintf("192.0.2.%d", remotes.Add(1)%250+1) }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := ssotest.Get(t)
	st := servicetest.New(t, servicetest.Options{})
	return &fixture{env: env, stack: st, sso: st.Service.SSO}
}

// provider connects a provider at issuer with client and secret.
func (f *fixture) provider(t *testing.T, name, issuer, client, secret string, edit func(*ProviderInput)) *Provider {
	t.Helper()
	yes := true
	in := ProviderInput{Name: &name, DisplayName: ptr("Test " + name), Issuer: &issuer, ClientID: &client, SelfService: &yes}
	if secret != "" {
		in.ClientSecret = &secret
	}
	if edit != nil {
		edit(&in)
	}
	p, err := f.sso.CreateProvider(t.Context(), f.stack.Admin, in)
	if err != nil {
		t.Fatalf("CreateProvider %s: %v", name, err)
	}
	return p
}

// user makes a local account with e-mail email and roles.
func (f *fixture) user(t *testing.T, login, email string, roles ...lanyard.Role) *lanyard.User {
	t.Helper()
	u := storetest.NewUser(login)
	u.Email, u.UPN, u.Roles, u.Groups = email, "", lanyard.Roles(roles), []string{}
	storetest.MustUpdate(t, f.stack.Store, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	return u
}

// signIn runs a whole sign-in of user at provider name from address
// addr and returns the callback Lanyard got.
func (f *fixture) callback(t *testing.T, s *SSO, name, user, addr string) Callback {
	t.Helper()
	start, err := s.Begin(t.Context(), name, "/", addr)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	back := f.env.SignIn(t, start.AuthURL, user)
	q := back.Query()
	return Callback{Provider: strings.TrimSuffix(strings.TrimPrefix(back.Path, "/login/oidc/"), "/callback"), State: q.Get("state"), Code: q.Get("code"),
		Error: q.Get("error"), ErrorDesc: q.Get("error_description"), Iss: q.Get("iss"), Browser: start.Browser}
}

func wantRefused(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if !lanyard.IsCode(err, lanyard.EUnauthenticated) || !strings.Contains(lanyard.ErrorMessage(err), msg) {
		t.Fatalf("%s: got %v, want unauthenticated with %q", what, err, msg)
	}
}

// TestOIDCSignIn: a user signs in at the provider as a public client
// (PKCE, no secret) and is mapped by the verified e-mail claim (read from
// UserInfo: the provider puts it there, not in the ID token); the state
// is used once; the provider's amr counts as a second factor only when
// configured to.
func TestOIDCSignIn(t *testing.T) {
	f := newFixture(t)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	alice := f.user(t, "alice", strings.ToUpper(f.env.Email("alice")))
	addr := remote()
	cb := f.callback(t, f.sso, "zitadel", "alice", addr)
	in, err := f.sso.Complete(t.Context(), cb, addr)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if in.User.ID != alice.ID || in.SecondFactor != "" || in.Next != "/" || in.Created {
		t.Errorf("sign-in = user %s, second factor %q, next %q, created %v; want alice, none, /, false", in.User.Login, in.SecondFactor, in.Next, in.Created)
	}
	_, err = f.sso.Complete(t.Context(), cb, addr)
	wantRefused(t, "the same answer again (replayed state)", err, "used already")

	// amr "pwd" counted as a second factor (only to see it taken from the
	// ID token: a real deployment lists mfa, hwk, otp …).
	if _, err := f.sso.UpdateProvider(t.Context(), f.stack.Admin, "zitadel", ProviderInput{AMR: &[]string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
	in, err = f.sso.Complete(t.Context(), f.callback(t, f.sso, "zitadel", "alice", addr), addr)
	if err != nil || in.SecondFactor != "amr=pwd" {
		t.Fatalf("with amr pwd counted: %v, second factor %q; want amr=pwd", err, in.SecondFactor)
	}
}

// TestOIDCConfidentialClient: a provider with a client secret (sealed)
// exchanges the code with it; a wrong secret is refused at the exchange.
func TestOIDCConfidentialClient(t *testing.T) {
	f := newFixture(t)
	// The confidential client's redirect URIs are exact: this SSO's
	// base URL is the one scripts/oidc-test.sh registered.
	s, err := New(Config{Store: f.stack.Store, Sealer: f.stack.Sealer, Now: time.Now, Rand: randReader{}, BaseURL: f.env.WebRedirectBase,
		Throttle: mustThrottle(t), ThrottleKey: func(r string) string { return "ip:" + r }})
	if err != nil {
		t.Fatal(err)
	}
	f.sso = s
	f.provider(t, "web", f.env.Issuer, f.env.WebClient, f.env.WebSecret, nil)
	f.user(t, "alice", f.env.Email("alice"))
	addr := remote()
	if in, err := s.Complete(t.Context(), f.callback(t, s, "web", "alice", addr), addr); err != nil || in.User.Login != "alice" {
		t.Fatalf("Complete with the right secret: %v", err)
	}
	if _, err := s.UpdateProvider(t.Context(), f.stack.Admin, "web", ProviderInput{ClientSecret: ptr("not the secret")}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Complete(t.Context(), f.callback(t, s, "web", "alice", addr), addr)
	wantRefused(t, "wrong client secret", err, "refused to exchange the authorization code")
}

// TestOIDCRefusals: each bad answer or mapping is refused with a clear
// message, audited, and changes no account.
func TestOIDCRefusals(t *testing.T) {
	f := newFixture(t)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	f.provider(t, "other", f.env.Issuer, f.env.PublicClient, "", nil)
	f.user(t, "alice", f.env.Email("alice"))
	f.user(t, "twin1", f.env.Email("twin"))
	f.user(t, "twin2", f.env.Email("twin"))
	gone := f.user(t, "gone", f.env.Email("gone"))
	gone.Disabled = true
	storetest.MustUpdate(t, f.stack.Store, func(tx lanyard.Tx) error { return tx.UpdateUser(gone) })
	f.user(t, "oscar", f.env.Email("oscar"), lanyard.RoleUser, lanyard.RoleOperator)
	ctx := t.Context()

	t.Run("StateMismatch", func(t *testing.T) {
		addr := remote()
		cb := f.callback(t, f.sso, "zitadel", "alice", addr)
		bad := cb
		bad.State = cb.State + "x"
		_, err := f.sso.Complete(ctx, bad, addr)
		wantRefused(t, "another state", err, "unknown")
		if _, err := f.sso.Complete(ctx, cb, addr); err != nil {
			t.Errorf("the right state after a wrong one: %v", err)
		}
	})
	t.Run("OtherBrowser", func(t *testing.T) {
		addr := remote()
		cb := f.callback(t, f.sso, "zitadel", "alice", addr)
		stolen := cb
		stolen.Browser = "another browser's cookie"
		_, err := f.sso.Complete(ctx, stolen, addr)
		wantRefused(t, "the state in another browser", err, "another browser")
		_, err = f.sso.Complete(ctx, cb, addr)
		wantRefused(t, "the state after its refusal", err, "used already")
	})
	t.Run("OtherProvidersRedirectURI", func(t *testing.T) {
		addr := remote()
		cb := f.callback(t, f.sso, "zitadel", "alice", addr)
		cb.Provider = "other"
		_, err := f.sso.Complete(ctx, cb, addr)
		wantRefused(t, "answer at another provider's URI", err, "another provider's address")
	})
	t.Run("ProviderError", func(t *testing.T) {
		addr := remote()
		cb := f.callback(t, f.sso, "zitadel", "alice", addr)
		cb.Code, cb.Error, cb.ErrorDesc = "", "access_denied", "the user cancelled"
		_, err := f.sso.Complete(ctx, cb, addr)
		wantRefused(t, "the provider's refusal", err, "access_denied")
	})
	t.Run("NoMatchingAccount", func(t *testing.T) {
		addr := remote()
		_, err := f.sso.Complete(ctx, f.callback(t, f.sso, "zitadel", "nobody", addr), addr)
		wantRefused(t, "no account", err, "no Lanyard account has the email "+f.env.Email("nobody"))
	})
	t.Run("TwoMatchingAccounts", func(t *testing.T) {
		addr := remote()
		_, err := f.sso.Complete(ctx, f.callback(t, f.sso, "zitadel", "twin", addr), addr)
		wantRefused(t, "two accounts", err, "more than one Lanyard account")
	})
	t.Run("DisabledAccount", func(t *testing.T) {
		addr := remote()
		_, err := f.sso.Complete(ctx, f.callback(t, f.sso, "zitadel", "gone", addr), addr)
		wantRefused(t, "disabled", err, "disabled")
	})
	t.Run("UnverifiedEmail", func(t *testing.T) {
		addr := remote()
		_, err := f.sso.Complete(ctx, f.callback(t, f.sso, "zitadel", "unverified", addr), addr)
		wantRefused(t, "unverified e-mail", err, "verified")
	})
	t.Run("StaffNeedsConsole", func(t *testing.T) {
		addr := remote()
		_, err := f.sso.Complete(ctx, f.callback(t, f.sso, "zitadel", "oscar", addr), addr)
		wantRefused(t, "staff at a Self-Service provider", err, "not enabled for staff")
	})
	var events []*lanyard.AuditEvent
	storetest.MustView(t, f.stack.Store, func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "session.login_failed", Limit: 100})
		return
	})
	reasons := map[string]bool{}
	for _, e := range events {
		var d struct{ Reason string }
		if err := json.Unmarshal(e.Details, &d); err != nil {
			t.Fatal(err)
		}
		reasons[d.Reason] = true
		if s := string(e.Details); strings.Contains(s, "eyJ") {
			t.Errorf("audit event %s carries a token: %s", e.Action, s)
		}
	}
	for _, want := range []string{"unknown state", "state from another browser", "answer at another provider's redirect URI", "no matching account",
		"several matching accounts", "account disabled", "email not verified", "provider not enabled for the account"} {
		if !reasons[want] {
			t.Errorf("no session.login_failed event with reason %q (have %v)", want, reasons)
		}
	}
	var n int
	storetest.MustView(t, f.stack.Store, func(tx lanyard.Tx) (err error) { n, err = tx.CountUsers(); return })
	if n != 6 { // the five above and the first-start administrator
		t.Errorf("%d accounts after the refusals, want 6 (none made)", n)
	}
}

// TestOIDCJustInTime: with just-in-time creation a sign-in without an
// account makes one (source oidc, role user only, external ID issuer and
// subject), and the next sign-in finds it by that ID; without it, the
// sign-in is refused.
func TestOIDCJustInTime(t *testing.T) {
	f := newFixture(t)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", func(in *ProviderInput) { in.JIT = ptr(true) })
	addr := remote()
	in, err := f.sso.Complete(t.Context(), f.callback(t, f.sso, "zitadel", "newbie", addr), addr)
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	u := in.User
	if !in.Created || u.Source != lanyard.SourceOIDC || u.ExternalID != ExternalID(f.env.Issuer, "id-newbie") ||
		!slicesEqual(u.Roles, lanyard.Roles{lanyard.RoleUser}) || u.Email != f.env.Email("newbie") || u.Login != "newbie" {
		t.Fatalf("just-in-time account = %+v", u)
	}
	again, err := f.sso.Complete(t.Context(), f.callback(t, f.sso, "zitadel", "newbie", addr), addr)
	if err != nil || again.User.ID != u.ID || again.Created {
		t.Fatalf("second sign-in: %v (user %v, created %v); want the same account", err, again, again != nil && again.Created)
	}
	if _, err := f.sso.UpdateProvider(t.Context(), f.stack.Admin, "zitadel", ProviderInput{JIT: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.sso.Complete(t.Context(), f.callback(t, f.sso, "zitadel", "nobody", addr), addr)
	wantRefused(t, "no account, just in time off", err, "no Lanyard account")
	// A provider offered for the console only makes no account (it
	// would hold no staff role to use the console with).
	if _, err := f.sso.UpdateProvider(t.Context(), f.stack.Admin, "zitadel", ProviderInput{JIT: ptr(true), SelfService: ptr(false), Console: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.sso.Complete(t.Context(), f.callback(t, f.sso, "zitadel", "nobody", addr), addr)
	wantRefused(t, "just in time at a console-only provider", err, "no Lanyard account")
	storetest.MustView(t, f.stack.Store, func(tx lanyard.Tx) error {
		if _, err := tx.UserByLogin("nobody"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("an account for nobody: %v", err)
		}
		return nil
	})
}

func slicesEqual(a, b lanyard.Roles) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

// TestOIDCTokenChecks: a real ID token of the provider is refused for
// another nonce, another client (audience) and by a provider of another
// issuer.
func TestOIDCTokenChecks(t *testing.T) {
	f := newFixture(t)
	zp := f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	web := f.provider(t, "web", f.env.Issuer, f.env.WebClient, f.env.WebSecret, nil)
	other := f.provider(t, "other", f.env.OtherIssuer, f.env.PublicClient, "", nil)
	ctx := context.Background()
	// A real ID token for the public client, with the nonce nonce.
	op, err := f.sso.Discover(ctx, zp.OIDCProvider)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: f.env.PublicClient, Endpoint: op.Endpoint(), RedirectURL: f.sso.CallbackURL("zitadel"), Scopes: []string{"openid", "email"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier, nonce := oauth2.GenerateVerifier(), "the-nonce"
	back := f.env.SignIn(t, cfg.AuthCodeURL("st", oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), "alice")
	tok, err := cfg.Exchange(f.sso.ClientContext(ctx), back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if err := f.sso.Verify(ctx, zp.OIDCProvider, op, raw, nonce); err != nil {
		t.Fatalf("the token as issued: %v", err)
	}
	err = f.sso.Verify(ctx, zp.OIDCProvider, op, raw, "another-nonce")
	wantReason(t, "nonce mismatch", err, "nonce mismatch", "")
	webOP, err := f.sso.Discover(ctx, web.OIDCProvider)
	if err != nil {
		t.Fatal(err)
	}
	err = f.sso.Verify(ctx, web.OIDCProvider, webOP, raw, nonce)
	wantReason(t, "another audience", err, "ID token invalid", "audience")
	otherOP, err := f.sso.Discover(ctx, other.OIDCProvider)
	if err != nil {
		t.Fatal(err)
	}
	err = f.sso.Verify(ctx, other.OIDCProvider, otherOP, raw, nonce)
	wantReason(t, "another issuer", err, "ID token invalid", "")

	// A provider whose issuer is not what its discovery document says
	// (127.0.0.1 for localhost) cannot even start a sign-in.
	u, _ := url.Parse(f.env.Issuer)
	f.provider(t, "wrongiss", "http://127.0.0.1:"+u.Port()+"/", f.env.PublicClient, "", nil)
	if _, err := f.sso.Begin(ctx, "wrongiss", "/", remote()); !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Errorf("Begin at a provider with the wrong issuer: %v, want unavailable", err)
	}
}

// wantReason checks a refusal's recorded reason and, when cause is set,
// that go-oidc's error names it.
func wantReason(t *testing.T, what string, err error, reason, cause string) {
	t.Helper()
	got, c := Refusal(err)
	if got != reason {
		t.Fatalf("%s: got %v, want the refusal %q", what, err, reason)
	}
	if cause != "" && (c == nil || !strings.Contains(c.Error(), cause)) {
		t.Errorf("%s: cause %v, want one naming %q", what, c, cause)
	}
}

// TestOIDCThrottle: counted failures from one address lock it out of
// further sign-ins, as failed passwords do.
func TestOIDCThrottle(t *testing.T) {
	f := newFixture(t)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	addr := remote()
	var err error
	for i := 0; i < 10 && !lanyard.IsCode(err, lanyard.ERateLimited); i++ {
		_, err = f.sso.Complete(t.Context(), Callback{Provider: "zitadel", State: fmt.Sprint("guess", i), Code: "x", Browser: "b"}, addr)
	}
	if !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("after 10 bad answers: %v, want rate limited", err)
	}
	if _, err := f.sso.Begin(t.Context(), "zitadel", "/", addr); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Errorf("Begin while locked: %v, want rate limited", err)
	}
}

// TestOIDCBeginBounded: beginning a sign-in needs no authentication, so
// a next longer than MaxNext becomes "/", and an address with
// MaxLoginsPerAddress sign-ins under way is refused more until they
// complete or expire (others are not). A provider whose amr counts asks
// for max_age, and the sign-in dates its second factor from auth_time.
func TestOIDCBeginBounded(t *testing.T) {
	f := newFixture(t)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	alice := f.user(t, "alice", f.env.Email("alice"))
	ctx, addr := t.Context(), remote()

	long := "/" + strings.Repeat("a", MaxNext)
	start, err := f.sso.Begin(ctx, "zitadel", long, addr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(start.AuthURL, "max_age") {
		t.Errorf("max_age asked without amr or acr counted: %s", start.AuthURL)
	}
	back := f.env.SignIn(t, start.AuthURL, "alice")
	q := back.Query()
	in, err := f.sso.Complete(ctx, Callback{Provider: "zitadel", State: q.Get("state"), Code: q.Get("code"), Iss: q.Get("iss"), Browser: start.Browser}, addr)
	if err != nil || in.User.ID != alice.ID || in.Next != "/" {
		t.Fatalf("sign-in with a %d-byte next: %v, %+v; want alice and /", len(long), err, in)
	}

	for i := range MaxLoginsPerAddress {
		if _, err := f.sso.Begin(ctx, "zitadel", "/", addr); err != nil {
			t.Fatalf("Begin %d: %v", i+1, err)
		}
	}
	if _, err := f.sso.Begin(ctx, "zitadel", "/", addr); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("Begin with %d under way: %v, want rate limited", MaxLoginsPerAddress, err)
	}
	if _, err := f.sso.Begin(ctx, "zitadel", "/", "198.51.100.7"); err != nil {
		t.Errorf("Begin from another address: %v", err)
	}
	var n, m int
	storetest.MustView(t, f.stack.Store, func(tx lanyard.Tx) (err error) {
		if n, err = tx.CountOIDCLogins("ip:"+addr, time.Now()); err != nil {
			return err
		}
		m, err = tx.CountOIDCLogins("ip:198.51.100.7", time.Now())
		return
	})
	if n != MaxLoginsPerAddress || m != 1 {
		t.Errorf("sign-ins under way: %d and %d, want %d and 1", n, m, MaxLoginsPerAddress)
	}

	if _, err := f.sso.UpdateProvider(ctx, f.stack.Admin, "zitadel", ProviderInput{AMR: &[]string{"pwd"}}); err != nil {
		t.Fatal(err)
	}
	other := remote()
	start, err = f.sso.Begin(ctx, "zitadel", "/", other)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(start.AuthURL)
	if got := u.Query().Get("max_age"); got != "300" {
		t.Errorf("max_age = %q, want 300", got)
	}
	back = f.env.SignIn(t, start.AuthURL, "alice")
	q = back.Query()
	in, err = f.sso.Complete(ctx, Callback{Provider: "zitadel", State: q.Get("state"), Code: q.Get("code"), Iss: q.Get("iss"), Browser: start.Browser}, other)
	if err != nil || in.SecondFactor != "amr=pwd" || in.SecondFactorAt.IsZero() || time.Since(in.SecondFactorAt) > time.Minute {
		t.Fatalf("amr counted: %v, %+v; want amr=pwd at auth_time", err, in)
	}
}

// TestOIDCBeginProviderCap: the sign-ins under way at one provider are
// capped from all addresses together (here at 3): a client with many
// addresses (an IPv6 /48) cannot fill the table; another provider is
// not affected, and a callback that takes a sign-in (even one refused)
// makes room again.
func TestOIDCBeginProviderCap(t *testing.T) {
	f := newFixture(t)
	f.sso.SetMaxLogins(3)
	f.provider(t, "zitadel", f.env.Issuer, f.env.PublicClient, "", nil)
	f.provider(t, "other", f.env.Issuer, f.env.PublicClient, "", nil)
	ctx := t.Context()
	var first *Start
	for i := range 3 {
		start, err := f.sso.Begin(ctx, "zitadel", "/", fmt.Sprintf("2001:db8:%x::1", i))
		if err != nil {
			t.Fatalf("Begin %d: %v", i+1, err)
		}
		if first == nil {
			first = start
		}
	}
	if _, err := f.sso.Begin(ctx, "zitadel", "/", "2001:db8:ff::1"); !lanyard.IsCode(err, lanyard.ERateLimited) {
		t.Fatalf("Begin with 3 under way at the provider: %v, want rate limited", err)
	}
	if _, err := f.sso.Begin(ctx, "other", "/", "2001:db8:ff::1"); err != nil {
		t.Fatalf("Begin at another provider: %v", err)
	}
	u, _ := url.Parse(first.AuthURL)
	if _, err := f.sso.Complete(ctx, Callback{Provider: "zitadel", State: u.Query().Get("state"), Browser: "not the browser"}, "2001:db8::1"); err == nil {
		t.Fatal("a callback from another browser completed")
	}
	if _, err := f.sso.Begin(ctx, "zitadel", "/", "2001:db8:ff::1"); err != nil {
		t.Fatalf("Begin after a sign-in was taken: %v", err)
	}
}
