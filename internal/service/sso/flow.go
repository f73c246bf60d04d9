package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Start is a sign-in sent to its provider.
type Start struct {
	// AuthURL is the provider's authorization endpoint with the request
	// (OpenID Connect Core 3.1.2.1): the browser goes there.
	AuthURL string
	// Browser is the secret for the sign-in cookie: the callback must
	// bring it back, so the sign-in completes only in this browser.
	Browser   string
	ExpiresAt time.Time
}

// Callback is what the provider sent back to the redirect URI
// (OpenID Connect Core 3.1.2.5 and 3.1.2.6; RFC 9207 for Iss).
type Callback struct {
	Provider         string // the redirect URI's {name}
	State, Code      string
	Error, ErrorDesc string
	Iss              string
	Browser          string // the sign-in cookie's secret, "" if none came
}

// SignIn is a verified sign-in: the account it maps to and the second
// factor the provider asserted that this provider's settings count. The
// web layer opens the session with identity.ExternalLogin.
type SignIn struct {
	User     *lanyard.User
	Provider string
	// Subject is the provider subject (ExternalID) User is bound to or
	// was made for; Console and SelfService are the provider's settings
	// when it signed in. identity.ExternalLogin checks them again in its
	// own transaction (ExternalAuth).
	Subject              string
	Console, SelfService bool
	SecondFactor         string // "amr=…" or "acr=…"; "" for none
	// SecondFactorAt is when the provider authenticated the person with
	// SecondFactor (the ID token's auth_time); zero for none.
	SecondFactorAt time.Time
	Next           string // the local path the sign-in began for
	Created        bool   // the account was made just now (just in time)
}

// Begin starts a sign-in at provider name for a browser that will go on
// to next (a local path the caller has checked): a fresh state, nonce
// and PKCE code verifier (RFC 7636 4.1, S256) kept server-side for
// LoginTTL, the verifier sealed, bound to the browser's cookie secret.
// Nothing is audited: no account is known yet and nothing of Lanyard
// changes; the callback records the outcome.
//
// Begin needs no authentication and stores a row, so it is bounded: a
// next longer than MaxNext becomes "/", and an address (its throttle
// key) with MaxLoginsPerAddress sign-ins under way, or a provider with
// Config.MaxLoginsPerProvider, gets ERateLimited until they complete or
// expire. A row is only ever taken back by a callback, and a callback
// that fails counts in the login throttle, so together they limit how
// fast one address makes rows. The counts and the insert are one
// transaction serialized by LockOIDCLogins, so concurrent Begins cannot
// all see room for one more under PostgreSQL's READ COMMITTED.
func (s *SSO) Begin(ctx context.Context, name, next, remote string) (*Start, error) {
	key := s.throttleKey(remote)
	if len(next) > MaxNext {
		next = "/"
	}
	if ok, _, err := s.throttle.Allow(ctx, key); err != nil {
		return nil, err
	} else if !ok {
		return nil, lanyard.Errorf(lanyard.ERateLimited, "too many failed sign-ins from this address; try again later")
	}
	var p *lanyard.OIDCProvider
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { p, err = tx.OIDCProviderByName(name); return })
	if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && !p.SelfService && !p.Console {
		return nil, lanyard.Errorf(lanyard.ENotFound, "there is no single sign-on provider %q; use the login page's buttons", name)
	}
	if err != nil {
		return nil, err
	}
	op, err := s.discover(ctx, p)
	if err != nil {
		return nil, err
	}
	cfg, err := s.oauthConfig(p, op)
	if err != nil {
		return nil, err
	}
	var secrets [4]string // state, nonce, verifier, browser
	for i := range secrets {
		if secrets[i], err = random(s.rand); err != nil {
			return nil, err
		}
	}
	state, nonce, verifier, browser := secrets[0], secrets[1], secrets[2], secrets[3]
	now := s.rec.Clock()
	l := &lanyard.OIDCLogin{StateHash: hash(state), ProviderID: p.ID, BrowserHash: hash(browser), Nonce: nonce, Next: next, Client: key,
		CreatedAt: now, ExpiresAt: now.Add(LoginTTL)}
	if l.SealedVerifier, err = s.sealer.Seal([]byte(verifier), verifierAAD(l.StateHash)); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot seal the sign-in")
	}
	err = s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.LockOIDCLogins(); err != nil {
			return err
		}
		n, err := tx.CountOIDCLogins(key, now)
		if err != nil {
			return err
		}
		if n >= MaxLoginsPerAddress {
			return lanyard.Errorf(lanyard.ERateLimited, "too many sign-ins under way from this address; finish one or try again in %d minutes", int(LoginTTL/time.Minute))
		}
		if n, err = tx.CountProviderOIDCLogins(p.ID, now); err != nil {
			return err
		}
		if n >= s.maxLogins {
			return lanyard.Errorf(lanyard.ERateLimited, "too many sign-ins under way at %s; try again in a few minutes or sign in with your password", p.DisplayName)
		}
		return tx.CreateOIDCLogin(l)
	})
	if err != nil {
		return nil, err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if len(p.AMR) > 0 || len(p.ACR) > 0 {
		// The provider's second factor counts only when fresh (MaxAge).
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(MaxAge/time.Second))))
	}
	u := cfg.AuthCodeURL(state, opts...)
	return &Start{AuthURL: u, Browser: browser, ExpiresAt: l.ExpiresAt}, nil
}

// random is 32 random bytes, base64url without padding (43 characters:
// a valid PKCE code verifier, RFC 7636 4.1, and an unguessable state and
// nonce).
func random(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "no randomness for a sign-in")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func verifierAAD(stateHash []byte) []byte {
	return []byte("oidc-verifier:" + hex.EncodeToString(stateHash))
}

// refusal is a failed sign-in: the message the person sees, the reason
// the audit event records, whether it counts in the throttle (the
// provider's own refusal does not), and the account when known.
type refusal struct {
	msg, reason string
	count       bool
	user        *lanyard.User
	cause       error
}

func (r *refusal) Error() string { return r.msg }

func refuse(reason, msg string) *refusal { return &refusal{msg: msg, reason: reason, count: true} }

// Complete finishes a sign-in at the redirect URI: the state taken
// (single use) and checked against the browser's cookie and the
// provider of the URI, the code exchanged with the PKCE verifier, the ID
// token verified — signature with the provider's keys, issuer, audience
// (and azp when there are several), expiry (go-oidc), nonce — and its
// claim mapped to one account (match.go). Every refusal is audited
// (session.login_failed, no token in it) and, unless the provider itself
// refused, counted in the login throttle under the client's address.
// The error is EUnauthenticated with a message for the person, or
// ERateLimited, EUnavailable, EInternal.
func (s *SSO) Complete(ctx context.Context, cb Callback, remote string) (*SignIn, error) {
	key := s.throttleKey(remote)
	// Allow, not Begin: a callback guesses nothing (its state is 256
	// random bits), and the address may be a whole office's signing in
	// at once through its provider; counting the failures, in the
	// throttle every replica shares, is what bounds abuse.
	if ok, _, err := s.throttle.Allow(ctx, key); err != nil {
		return nil, err
	} else if !ok {
		return nil, lanyard.Errorf(lanyard.ERateLimited, "too many failed sign-ins from this address; try again later")
	}
	p, in, err := s.complete(ctx, cb)
	if err == nil {
		return in, nil
	}
	var r *refusal
	if !errors.As(err, &r) {
		return nil, err
	}
	if r.count {
		if err := s.throttle.Failure(ctx, key); err != nil {
			s.log.Error("counting a failed single sign-on failed", "err", err)
		}
	}
	name := cb.Provider
	if p != nil {
		name = p.Name
	}
	details := map[string]any{"method": "oidc", "provider": name, "reason": r.reason}
	s.log.Info("single sign-on refused", "provider", name, "reason", r.reason, "remote", remote, "err", r.cause)
	_ = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		e := s.rec.Event(&lanyard.Principal{User: r.user, RemoteAddr: remote}, "session.login_failed", "oidc_provider", name, details)
		e.RemoteAddr = remote
		return e
	}, func(lanyard.Tx) error { return nil })
	return nil, lanyard.Errorf(lanyard.EUnauthenticated, "%s", r.msg)
}

func (s *SSO) complete(ctx context.Context, cb Callback) (*lanyard.OIDCProvider, *SignIn, error) {
	restart := "; go back to the login page and sign in again"
	if cb.State == "" {
		return nil, nil, refuse("no state", "the provider's answer carries no state"+restart)
	}
	var l *lanyard.OIDCLogin
	var p *lanyard.OIDCProvider
	// Taken (deleted) first, whatever follows: a state is used once.
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) {
		if l, err = tx.TakeOIDCLogin(hash(cb.State)); err != nil {
			return err
		}
		p, err = tx.OIDCProviderByID(l.ProviderID)
		return err
	})
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil, refuse("unknown state", "this sign-in is unknown, was used already or has expired"+restart)
	}
	if err != nil {
		return nil, nil, err
	}
	if cb.Browser == "" || subtle.ConstantTimeCompare(hash(cb.Browser), l.BrowserHash) != 1 {
		return p, nil, refuse("state from another browser", "this sign-in was started in another browser (or its cookie was lost)"+restart)
	}
	if !s.rec.Clock().Before(l.ExpiresAt) {
		return p, nil, refuse("expired", "this sign-in took longer than 10 minutes"+restart)
	}
	if p.Name != cb.Provider {
		return p, nil, refuse("answer at another provider's redirect URI", "the provider's answer came to another provider's address"+restart)
	}
	if cb.Iss != "" && cb.Iss != p.Issuer {
		return p, nil, refuse("iss parameter of another issuer", "the answer names another issuer than "+p.DisplayName+restart)
	}
	if cb.Error != "" {
		r := &refusal{msg: p.DisplayName + " did not sign you in (" + clip(cb.Error) + ")", reason: "provider error " + clip(cb.Error)}
		if cb.ErrorDesc != "" {
			r.msg += ": " + clip(cb.ErrorDesc)
		}
		return p, nil, r
	}
	if cb.Code == "" {
		return p, nil, refuse("no code", "the provider's answer carries no authorization code"+restart)
	}
	if !p.SelfService && !p.Console {
		return p, nil, refuse("provider off", p.DisplayName+" is not enabled for signing in")
	}
	verifier, err := s.sealer.Open(l.SealedVerifier, verifierAAD(l.StateHash))
	if err != nil {
		return p, nil, lanyard.Wrap(lanyard.EInternal, err, "cannot open the sign-in")
	}
	op, err := s.discover(ctx, p)
	if err != nil {
		return p, nil, err
	}
	cfg, err := s.oauthConfig(p, op)
	if err != nil {
		return p, nil, err
	}
	tok, err := cfg.Exchange(s.clientContext(ctx), cb.Code, oauth2.VerifierOption(string(verifier)))
	if err != nil {
		r := refuse("code exchange failed", p.DisplayName+" refused to exchange the authorization code"+restart)
		r.cause = err
		return p, nil, r
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return p, nil, refuse("no ID token", p.DisplayName+" sent no ID token; check that the scopes include openid")
	}
	claims, err := s.verify(ctx, p, op, raw, l.Nonce)
	if err != nil {
		return p, nil, err
	}
	if err := s.userInfo(ctx, p, op, tok, claims); err != nil {
		return p, nil, err
	}
	in, err := s.signIn(ctx, p, claims)
	if err != nil {
		return p, nil, err
	}
	in.Next = l.Next
	return p, in, nil
}

// verify checks an ID token (OpenID Connect Core 3.1.3.7): go-oidc
// checks the signature with the provider's published keys, the issuer,
// that the client ID is an audience, and the expiry; then the azp claim
// when there are several audiences, the subject, and the nonce this
// sign-in sent (3.1.2.1, replay).
func (s *SSO) verify(ctx context.Context, p *lanyard.OIDCProvider, op *oidc.Provider, raw, nonce string) (*idClaims, error) {
	v := op.Verifier(&oidc.Config{ClientID: p.ClientID, Now: s.rec.Now})
	t, err := v.Verify(s.clientContext(ctx), raw)
	if err != nil {
		r := refuse("ID token invalid", "the ID token from "+p.DisplayName+" is not valid for Lanyard (issuer, audience, expiry or signature)")
		r.cause = err
		return nil, r
	}
	c := &idClaims{Issuer: t.Issuer, Subject: t.Subject, all: map[string]any{}}
	if err := t.Claims(&c.all); err != nil {
		return nil, refuse("ID token claims unreadable", "the ID token's claims cannot be read")
	}
	if azp, _ := c.all["azp"].(string); (len(t.Audience) > 1 || azp != "") && azp != p.ClientID {
		return nil, refuse("ID token for another party (azp)", "the ID token was issued to another application")
	}
	if t.Subject == "" {
		return nil, refuse("ID token without subject", "the ID token names no subject")
	}
	if subtle.ConstantTimeCompare([]byte(t.Nonce), []byte(nonce)) != 1 {
		return nil, refuse("nonce mismatch", "the ID token does not belong to this sign-in (nonce)")
	}
	return c, nil
}

// userInfo adds the UserInfo endpoint's claims when the ID token lacks
// the matching claim: a provider that issues an access token may return
// the claims of the profile and email scopes from UserInfo only (OpenID
// Connect Core 5.4). The answer counts only for the ID token's subject
// (5.3.2); claims the ID token has are kept, and amr and acr are taken
// from the ID token alone.
func (s *SSO) userInfo(ctx context.Context, p *lanyard.OIDCProvider, op *oidc.Provider, tok *oauth2.Token, c *idClaims) error {
	if _, ok := c.all[p.Claim]; ok && (p.Claim != "email" || c.all["email_verified"] != nil) {
		return nil
	}
	if op.UserInfoEndpoint() == "" {
		return nil
	}
	info, err := op.UserInfo(s.clientContext(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		r := refuse("userinfo failed", "Lanyard could not read your account's claims from "+p.DisplayName)
		r.cause = err
		return r
	}
	if info.Subject != c.Subject {
		return refuse("userinfo of another subject", "the provider's UserInfo answer names another subject than the ID token")
	}
	more := map[string]any{}
	if err := info.Claims(&more); err != nil {
		return refuse("userinfo unreadable", "the provider's UserInfo answer cannot be read")
	}
	for k, v := range more {
		switch k {
		case "iss", "aud", "sub", "amr", "acr", "nonce", "azp", "exp", "iat", "auth_time":
			continue
		}
		if _, ok := c.all[k]; !ok {
			c.all[k] = v
		}
	}
	return nil
}

// clip keeps a provider's error text short and printable.
func clip(s string) string {
	out := make([]rune, 0, 100)
	for _, r := range s {
		if len(out) == 100 {
			break
		}
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}

// PurgeLogins deletes sign-ins older than LoginTTL (run on a schedule).
func (s *SSO) PurgeLogins(ctx context.Context) (int, error) {
	var n int
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredOIDCLogins(s.rec.Clock()); return })
	return n, err
}
