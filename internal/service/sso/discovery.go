package sso

import (
	"context"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// discoveryTTL is how long a provider's discovery document is used
// before it is fetched again; its signing keys go-oidc refreshes on its
// own when a token names a key it does not know.
const discoveryTTL = time.Hour

// discovered is a provider's discovery document (OpenID Connect
// Discovery 1.0) and key set, fetched once per provider version.
type discovered struct {
	updated time.Time // the provider row's UpdatedAt it was made for
	fetched time.Time
	op      *oidc.Provider
}

// clientContext carries the HTTP client go-oidc and oauth2 use.
func (s *SSO) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.client)
}

// discover returns p's discovery document, from the cache while it is
// fresh. go-oidc checks that the document's issuer is p.Issuer exactly.
func (s *SSO) discover(ctx context.Context, p *lanyard.OIDCProvider) (*oidc.Provider, error) {
	now := s.rec.Clock()
	s.mu.Lock()
	d := s.discovery[p.ID]
	s.mu.Unlock()
	if d != nil && d.updated.Equal(p.UpdatedAt) && now.Sub(d.fetched) < discoveryTTL {
		return d.op, nil
	}
	// The key set keeps the context it was made with for later
	// fetches: only the client is taken from ctx, not its deadline.
	op, err := oidc.NewProvider(s.clientContext(context.WithoutCancel(ctx)), p.Issuer)
	if err != nil {
		s.log.Warn("OIDC discovery failed", "provider", p.Name, "issuer", p.Issuer, "err", err)
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the sign-in provider "+p.DisplayName+" cannot be reached or its discovery document does not match its issuer; try again later or ask an administrator")
	}
	s.mu.Lock()
	s.discovery[p.ID] = &discovered{updated: p.UpdatedAt, fetched: now, op: op}
	s.mu.Unlock()
	return op, nil
}

// forget drops a provider's cached discovery after a change.
func (s *SSO) forget(id int64) {
	s.mu.Lock()
	delete(s.discovery, id)
	s.mu.Unlock()
}

// oauthConfig is p's OAuth 2.0 client: the client secret opened, or none
// for a public client, which sends its client_id in the token request's
// body (RFC 6749 section 2.3.1 applies to confidential clients only).
func (s *SSO) oauthConfig(p *lanyard.OIDCProvider, op *oidc.Provider) (*oauth2.Config, error) {
	cfg := &oauth2.Config{ClientID: p.ClientID, Endpoint: op.Endpoint(), RedirectURL: s.CallbackURL(p.Name), Scopes: p.Scopes}
	if len(p.SealedSecret) == 0 {
		cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		return cfg, nil
	}
	secret, err := s.sealer.Open(p.SealedSecret, secretAAD(p.Name))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot open the provider's client secret")
	}
	cfg.ClientSecret = string(secret)
	return cfg, nil
}
