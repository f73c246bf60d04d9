package sso

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ProviderInput creates or changes a provider: a nil field keeps the
// current value (Create fills defaults). ClientSecret is write-only: it
// is sealed and never returned or logged; "" makes the provider a public
// client (PKCE only).
type ProviderInput struct {
	Name, DisplayName, Issuer, ClientID *string
	ClientSecret                        *string
	Scopes                              *[]string
	Claim                               *string
	MatchAttribute                      *lanyard.OIDCMatch
	JIT                                 *bool
	AMR, ACR                            *[]string
	SelfService, Console                *bool
}

// Limits of a provider's settings.
const (
	maxSecret   = 1024
	maxValues   = 20  // scopes, amr values, acr values
	maxValueLen = 200 // each of them, the claim's name, the client ID
)

// The defaults of a new provider: the claims most providers release
// with these scopes (OpenID Connect Core 5.4), matched by e-mail.
var (
	defaultScopes = []string{"openid", "email", "profile"}
	defaultClaim  = "email"
)

// Provider is a provider as an administrator sees it: never its secret,
// only whether there is one.
type Provider struct {
	*lanyard.OIDCProvider
	HasSecret   bool
	CallbackURL string // the redirect URI to register at the provider
}

// LoginButton is what the login page shows of a provider.
type LoginButton struct {
	Name, DisplayName string
	SelfService       bool
	Console           bool
}

func adminOnly(p *lanyard.Principal) error {
	if p == nil || !p.Has(lanyard.RoleAdministrator) {
		return lanyard.Errorf(lanyard.EForbidden, "connecting single sign-on providers needs the administrator role")
	}
	return nil
}

func (s *SSO) view(p *lanyard.OIDCProvider) *Provider {
	return &Provider{OIDCProvider: p, HasSecret: len(p.SealedSecret) > 0, CallbackURL: s.CallbackURL(p.Name)}
}

// Providers lists the providers (administrators).
func (s *SSO) Providers(ctx context.Context, p *lanyard.Principal) ([]*Provider, error) {
	if err := adminOnly(p); err != nil {
		return nil, err
	}
	var list []*lanyard.OIDCProvider
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.ListOIDCProviders(); return }); err != nil {
		return nil, err
	}
	out := make([]*Provider, len(list))
	for i, v := range list {
		out[i] = s.view(v)
	}
	return out, nil
}

// Provider returns one provider (administrators).
func (s *SSO) Provider(ctx context.Context, p *lanyard.Principal, name string) (*Provider, error) {
	if err := adminOnly(p); err != nil {
		return nil, err
	}
	var v *lanyard.OIDCProvider
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { v, err = tx.OIDCProviderByName(name); return }); err != nil {
		return nil, err
	}
	return s.view(v), nil
}

// LoginButtons lists the providers people may sign in with, for the
// login page (no authentication: names only).
func (s *SSO) LoginButtons(ctx context.Context) ([]LoginButton, error) {
	var list []*lanyard.OIDCProvider
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.ListOIDCProviders(); return }); err != nil {
		return nil, err
	}
	out := []LoginButton{}
	for _, v := range list {
		if v.SelfService || v.Console {
			out = append(out, LoginButton{Name: v.Name, DisplayName: v.DisplayName, SelfService: v.SelfService, Console: v.Console})
		}
	}
	return out, nil
}

// CreateProvider connects a provider (administrators). Name, display
// name, issuer and client ID are required; the rest defaults to the
// scopes openid, email and profile, the email claim matched with the
// account's e-mail, no just-in-time accounts, no provider second factor,
// and the provider off for both Self-Service and the console.
func (s *SSO) CreateProvider(ctx context.Context, p *lanyard.Principal, in ProviderInput) (*Provider, error) {
	if err := adminOnly(p); err != nil {
		return nil, err
	}
	if in.Name == nil || in.DisplayName == nil || in.Issuer == nil || in.ClientID == nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a provider needs a name, a display name, an issuer and a client ID")
	}
	now := s.rec.Clock()
	v := &lanyard.OIDCProvider{Scopes: slices.Clone(defaultScopes), Claim: defaultClaim, MatchAttribute: lanyard.MatchEmail,
		AMR: []string{}, ACR: []string{}, CreatedAt: now, UpdatedAt: now}
	if err := s.apply(v, in, ""); err != nil {
		return nil, err
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "oidc_provider.create", "oidc_provider", v.Name, auditDetails(v, in))
	}, func(tx lanyard.Tx) error { return tx.CreateOIDCProvider(v) })
	if err != nil {
		return nil, err
	}
	return s.view(v), nil
}

// UpdateProvider changes a provider (administrators). A rename changes
// its redirect URI, which must then be registered at the provider again.
func (s *SSO) UpdateProvider(ctx context.Context, p *lanyard.Principal, name string, in ProviderInput) (*Provider, error) {
	if err := adminOnly(p); err != nil {
		return nil, err
	}
	var v *lanyard.OIDCProvider
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "oidc_provider.update", "oidc_provider", name, auditDetails(v, in))
	}, func(tx lanyard.Tx) (err error) {
		if v, err = tx.OIDCProviderByName(name); err != nil {
			return err
		}
		if err := s.apply(v, in, name); err != nil {
			return err
		}
		v.UpdatedAt = s.rec.Clock()
		if err := tx.UpdateOIDCProvider(v); err != nil {
			return err
		}
		return notifyProvider(tx, v.ID)
	})
	if err != nil {
		return nil, err
	}
	s.forget(v.ID)
	return s.view(v), nil
}

// DeleteProvider disconnects a provider (administrators): its sign-ins
// under way end; accounts it made just in time stay (their source says
// oidc) and can no longer sign in through it.
func (s *SSO) DeleteProvider(ctx context.Context, p *lanyard.Principal, name string) error {
	if err := adminOnly(p); err != nil {
		return err
	}
	var id int64
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "oidc_provider.delete", "oidc_provider", name, nil)
	}, func(tx lanyard.Tx) error {
		v, err := tx.OIDCProviderByName(name)
		if err != nil {
			return err
		}
		id = v.ID
		if err := tx.DeleteOIDCProvider(v.ID); err != nil {
			return err
		}
		return notifyProvider(tx, v.ID)
	})
	if err == nil {
		s.forget(id)
	}
	return err
}

// auditDetails says what a create or update set, never the secret.
func auditDetails(v *lanyard.OIDCProvider, in ProviderInput) map[string]any {
	d := map[string]any{}
	if v != nil {
		d["issuer"], d["client_id"], d["claim"], d["match_attribute"] = v.Issuer, v.ClientID, v.Claim, string(v.MatchAttribute)
		d["jit"], d["self_service"], d["console"], d["amr"], d["acr"] = v.JIT, v.SelfService, v.Console, v.AMR, v.ACR
	}
	if in.ClientSecret != nil {
		d["client_secret_changed"] = true
	}
	return d
}

// secretAAD binds a sealed client secret to its provider's name.
func secretAAD(name string) []byte { return []byte("oidc-client-secret:" + name) }

// apply validates in and copies it onto v; oldName is v's name before
// (for a rename the sealed secret is sealed again under the new name).
func (s *SSO) apply(v *lanyard.OIDCProvider, in ProviderInput, oldName string) error {
	var secret []byte
	keep := in.ClientSecret == nil && len(v.SealedSecret) > 0
	if keep && in.Name != nil && *in.Name != oldName {
		plain, err := s.sealer.Open(v.SealedSecret, secretAAD(oldName))
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "cannot open the provider's client secret")
		}
		secret, keep = plain, false
	}
	if in.Name != nil {
		v.Name = strings.TrimSpace(*in.Name)
	}
	if in.DisplayName != nil {
		v.DisplayName = strings.TrimSpace(*in.DisplayName)
	}
	if in.Issuer != nil {
		v.Issuer = strings.TrimSpace(*in.Issuer)
	}
	if in.ClientID != nil {
		v.ClientID = strings.TrimSpace(*in.ClientID)
	}
	if in.Scopes != nil {
		v.Scopes = slices.Clone(*in.Scopes)
	}
	if in.Claim != nil {
		v.Claim = strings.TrimSpace(*in.Claim)
	}
	if in.MatchAttribute != nil {
		v.MatchAttribute = *in.MatchAttribute
	}
	if in.JIT != nil {
		v.JIT = *in.JIT
	}
	if in.AMR != nil {
		v.AMR = slices.Clone(*in.AMR)
	}
	if in.ACR != nil {
		v.ACR = slices.Clone(*in.ACR)
	}
	if in.SelfService != nil {
		v.SelfService = *in.SelfService
	}
	if in.Console != nil {
		v.Console = *in.Console
	}
	if err := ValidateProvider(v); err != nil {
		return err
	}
	if in.ClientSecret != nil {
		if len(*in.ClientSecret) > maxSecret {
			return lanyard.Errorf(lanyard.EInvalid, "a client secret is at most %d bytes", maxSecret)
		}
		secret = []byte(*in.ClientSecret)
	}
	if keep {
		return nil
	}
	v.SealedSecret = nil
	if len(secret) > 0 {
		sealed, err := s.sealer.Seal(secret, secretAAD(v.Name))
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "cannot seal the client secret")
		}
		v.SealedSecret = sealed
	}
	return nil
}

// ValidateProvider checks a provider's settings (not its secret).
func ValidateProvider(v *lanyard.OIDCProvider) error {
	if !validName(v.Name) {
		return lanyard.Errorf(lanyard.EInvalid, "the name %q must be 1 to 63 lowercase letters, digits and hyphens, starting with a letter or digit", v.Name)
	}
	if v.DisplayName == "" || utf8.RuneCountInString(v.DisplayName) > 100 || strings.IndexFunc(v.DisplayName, unicode.IsControl) >= 0 {
		return lanyard.Errorf(lanyard.EInvalid, "the display name must be 1 to 100 characters without control characters")
	}
	if err := validIssuer(v.Issuer); err != nil {
		return err
	}
	if !validToken(v.ClientID) {
		return lanyard.Errorf(lanyard.EInvalid, "the client ID must be 1 to %d printable ASCII characters without spaces", maxValueLen)
	}
	if err := validList("scope", v.Scopes); err != nil {
		return err
	}
	if !slices.Contains(v.Scopes, "openid") {
		return lanyard.Errorf(lanyard.EInvalid, "the scopes must include openid (OpenID Connect Core 3.1.2.1)")
	}
	if !validToken(v.Claim) {
		return lanyard.Errorf(lanyard.EInvalid, "the claim must be a claim's name: upn, email, preferred_username or another one the provider sends")
	}
	if !v.MatchAttribute.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "the claim is matched with upn, email or login, not %q", v.MatchAttribute)
	}
	if err := validList("amr value", v.AMR); err != nil {
		return err
	}
	return validList("acr value", v.ACR)
}

func validName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validToken: printable ASCII without spaces, quotes or backslashes (RFC
// 6749 appendix A.4's scope-token, which also fits client IDs, claim
// names, amr and acr values).
func validToken(s string) bool {
	if s == "" || len(s) > maxValueLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func validList(what string, vs []string) error {
	if len(vs) > maxValues {
		return lanyard.Errorf(lanyard.EInvalid, "at most %d %ss", maxValues, what)
	}
	for _, x := range vs {
		if !validToken(x) {
			return lanyard.Errorf(lanyard.EInvalid, "the %s %q must be printable ASCII without spaces, quotes or backslashes", what, x)
		}
	}
	return nil
}

// validIssuer: an https URL without query or fragment (OpenID Connect
// Discovery 1.0, section 2, the issuer identifier); plain http only for
// a provider on this machine (tests, a provider beside Lanyard).
func validIssuer(s string) error {
	u, err := url.Parse(s)
	bad := lanyard.Errorf(lanyard.EInvalid, "the issuer %q must be an https URL without query or fragment, as the provider's discovery document names it", s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || len(s) > 1000 {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || net.ParseIP(h).IsLoopback() {
			return nil
		}
	}
	return bad
}
