package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/sso"
	"github.com/lanyard-cms/lanyard/internal/web/problem"
	"github.com/lanyard-cms/lanyard/internal/web/ui"
)

// SSO is what the web layer asks of the single sign-on capability
// (internal/service/sso).
type SSO interface {
	Providers(ctx context.Context, p *lanyard.Principal) ([]*sso.Provider, error)
	Provider(ctx context.Context, p *lanyard.Principal, name string) (*sso.Provider, error)
	CreateProvider(ctx context.Context, p *lanyard.Principal, in sso.ProviderInput) (*sso.Provider, error)
	UpdateProvider(ctx context.Context, p *lanyard.Principal, name string, in sso.ProviderInput) (*sso.Provider, error)
	DeleteProvider(ctx context.Context, p *lanyard.Principal, name string) error
	LoginButtons(ctx context.Context) ([]sso.LoginButton, error)
	Begin(ctx context.Context, name, next, remote string) (*sso.Start, error)
	Complete(ctx context.Context, cb sso.Callback, remote string) (*sso.SignIn, error)
}

// ExternalSessions opens the session of a sign-in the sso capability
// verified (identity.ExternalLogin) and describes a login waiting for
// its second factor (identity.PendingLogin).
type ExternalSessions interface {
	ExternalLogin(ctx context.Context, u *lanyard.User, ext identity.ExternalAuth, remote string) (*identity.LoginResult, error)
	PendingLogin(ctx context.Context, challengeID string) (*identity.LoginResult, error)
}

// The sign-in cookie binds a sign-in at a provider to the browser that
// began it (sso.Start.Browser): SameSite=Lax, since the provider's
// redirect back is a cross-site top-level GET; its path keeps it to the
// sign-in's routes; over HTTPS it carries __Secure- (RFC 6265bis
// 4.1.3.1).
const (
	oidcCookie       = "lanyard_oidc"
	secureOIDCCookie = "__Secure-" + oidcCookie
	oidcCookiePath   = "/login/oidc/"
)

func (s *Server) oidcCookieName() string {
	if s.secure {
		return secureOIDCCookie
	}
	return oidcCookie
}

// oidcRoutes are the providers' settings (administrators) and the login
// page's buttons.
func (s *Server) oidcRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/oidc-providers", summary: "The single sign-on (OpenID Connect) providers; never their client secrets", tag: "sso", roles: admins,
			out: []apiv1.OIDCProvider{}, status: 200, h: func(c *call) (any, error) {
				list, err := s.sso.Providers(c.r.Context(), c.p)
				if err != nil {
					return nil, err
				}
				out := make([]apiv1.OIDCProvider, len(list))
				for i, p := range list {
					out[i] = oidcProviderOut(p)
				}
				return out, nil
			}},
		{method: "POST", path: v1 + "/oidc-providers", summary: "Connect a single sign-on provider (name, display_name, issuer and client_id required; the client secret is sealed and never returned)", tag: "sso", roles: admins,
			in: apiv1.OIDCProviderInput{}, out: apiv1.OIDCProvider{}, status: 201, h: func(c *call) (any, error) {
				var in apiv1.OIDCProviderInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				p, err := s.sso.CreateProvider(c.r.Context(), c.p, oidcProviderIn(in))
				if err != nil {
					return nil, err
				}
				return oidcProviderOut(p), nil
			}},
		{method: "GET", path: v1 + "/oidc-providers/{name}", summary: "One single sign-on provider", tag: "sso", roles: admins,
			out: apiv1.OIDCProvider{}, status: 200, h: func(c *call) (any, error) {
				p, err := s.sso.Provider(c.r.Context(), c.p, c.r.PathValue("name"))
				if err != nil {
					return nil, err
				}
				return oidcProviderOut(p), nil
			}},
		{method: "PATCH", path: v1 + "/oidc-providers/{name}", summary: "Change a single sign-on provider (absent fields keep their value; a rename changes the redirect URI)", tag: "sso", roles: admins,
			in: apiv1.OIDCProviderInput{}, out: apiv1.OIDCProvider{}, status: 200, h: func(c *call) (any, error) {
				var in apiv1.OIDCProviderInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				p, err := s.sso.UpdateProvider(c.r.Context(), c.p, c.r.PathValue("name"), oidcProviderIn(in))
				if err != nil {
					return nil, err
				}
				return oidcProviderOut(p), nil
			}},
		{method: "DELETE", path: v1 + "/oidc-providers/{name}", summary: "Disconnect a single sign-on provider (accounts it made stay)", tag: "sso", roles: admins,
			status: 204, h: func(c *call) (any, error) {
				return nil, s.sso.DeleteProvider(c.r.Context(), c.p, c.r.PathValue("name"))
			}},
		{method: "GET", path: v1 + "/session/providers", summary: "The single sign-on providers the login page offers (GET /login/oidc/{name}?next=PATH starts a sign-in)", tag: "sessions", public: true,
			out: []apiv1.LoginProvider{}, status: 200, h: func(c *call) (any, error) {
				list, err := s.sso.LoginButtons(c.r.Context())
				if err != nil {
					return nil, err
				}
				out := make([]apiv1.LoginProvider, len(list))
				for i, b := range list {
					out[i] = apiv1.LoginProvider{Name: b.Name, DisplayName: b.DisplayName, SelfService: b.SelfService, Console: b.Console}
				}
				return out, nil
			}},
		{method: "GET", path: v1 + "/session/second-factor", summary: "The login waiting for its second factor (login cookie): after a single sign-on that asserted none, the login page asks for the code with it", tag: "sessions", public: true,
			out: apiv1.LoginPending{}, status: 200, h: s.pendingLogin},
	}
}

func oidcProviderOut(p *sso.Provider) apiv1.OIDCProvider {
	return apiv1.OIDCProvider{Name: p.Name, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecretSet: p.HasSecret,
		Scopes: p.Scopes, Claim: p.Claim, MatchAttribute: p.MatchAttribute, JIT: p.JIT, AMR: p.AMR, ACR: p.ACR, SelfService: p.SelfService,
		Console: p.Console, CallbackURL: p.CallbackURL, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

func oidcProviderIn(in apiv1.OIDCProviderInput) sso.ProviderInput {
	return sso.ProviderInput{Name: in.Name, DisplayName: in.DisplayName, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret,
		Scopes: in.Scopes, Claim: in.Claim, MatchAttribute: in.MatchAttribute, JIT: in.JIT, AMR: in.AMR, ACR: in.ACR,
		SelfService: in.SelfService, Console: in.Console}
}

// pendingLogin describes the login cookie's login (identity.PendingLogin).
func (s *Server) pendingLogin(c *call) (any, error) {
	res, err := s.sessions.PendingLogin(c.r.Context(), s.loginChallenge(c.r))
	if err != nil {
		return nil, err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	out := apiv1.LoginPending{SecondFactor: res.SecondFactor, ExpiresAt: res.Challenge.ExpiresAt}
	if res.Setup != nil {
		out.OTPAuthURL, out.Secret = res.Setup.URL, res.Setup.Secret
	}
	return out, nil
}

// mountOIDC serves the browser's side of a sign-in at a provider: the
// start (GET /login/oidc/{name}?next=PATH, a redirect to the provider)
// and the redirect URI (GET /login/oidc/{name}/callback). They are
// navigations, not API calls: they answer with redirects, and a refusal
// is a page that says what went wrong.
func (s *Server) mountOIDC(pages *ui.UI) {
	s.mux.Handle("GET /login/oidc/{name}", ui.Secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := ui.SafeNext(r.URL.Query().Get("next"))
		st, err := s.sso.Begin(r.Context(), r.PathValue("name"), next, s.clientAddr(r))
		if err != nil {
			s.oidcRefused(w, r, pages, err)
			return
		}
		s.setCookie(w, s.oidcCookieName(), oidcCookiePath, http.SameSiteLaxMode, st.Browser, st.ExpiresAt)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, st.AuthURL, http.StatusSeeOther)
	})))
	s.mux.Handle("GET /login/oidc/{name}/callback", ui.Secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cb := sso.Callback{Provider: r.PathValue("name"), State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"),
			ErrorDesc: q.Get("error_description"), Iss: q.Get("iss")}
		if ck, err := r.Cookie(s.oidcCookieName()); err == nil {
			cb.Browser = ck.Value
		}
		s.setCookie(w, s.oidcCookieName(), oidcCookiePath, http.SameSiteLaxMode, "", time.Time{})
		w.Header().Set("Cache-Control", "no-store")
		remote := s.clientAddr(r)
		in, err := s.sso.Complete(r.Context(), cb, remote)
		if err != nil {
			s.oidcRefused(w, r, pages, err)
			return
		}
		res, err := s.sessions.ExternalLogin(r.Context(), in.User, identity.ExternalAuth{Method: "oidc", Provider: in.Provider, Subject: in.Subject,
			Console: in.Console, SelfService: in.SelfService, SecondFactor: in.SecondFactor, SecondFactorAt: in.SecondFactorAt}, remote)
		if err != nil {
			s.oidcRefused(w, r, pages, err)
			return
		}
		if res.Challenge != nil {
			// Lanyard's own second factor: the login page asks for the
			// code (or sets up the app) with the login cookie.
			s.setLoginCookie(w, res.ChallengeID, res.Challenge.ExpiresAt)
			http.Redirect(w, r, "/login?"+url.Values{"next": {in.Next}, "sso": {"second-factor"}}.Encode(), http.StatusSeeOther)
			return
		}
		s.setSessionCookie(w, res.SessionID, res.Session.ExpiresAt)
		http.Redirect(w, r, in.Next, http.StatusSeeOther)
	})))
}

// oidcRefused shows why a sign-in failed, with the status its code maps
// to; internals are logged, never shown.
func (s *Server) oidcRefused(w http.ResponseWriter, r *http.Request, pages *ui.UI, err error) {
	d := problem.For(err, r.URL.Path)
	if d.Status >= 500 {
		s.log.Error("single sign-on", "path", r.URL.Path, "code", d.Code, "err", err)
	}
	msg := d.Detail
	if strings.TrimSpace(msg) == "" {
		msg = "the sign-in failed"
	}
	status := d.Status
	setRetryAfter(w, err)
	pages.RenderError(w, r, status, "Sign-in failed", msg+".")
}
