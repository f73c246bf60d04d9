package sso

import (
	"context"
	"errors"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Discover is discover, for the tests of the ID token checks.
func (s *SSO) Discover(ctx context.Context, p *lanyard.OIDCProvider) (*oidc.Provider, error) {
	return s.discover(ctx, p)
}

// ClientContext is clientContext.
func (s *SSO) ClientContext(ctx context.Context) context.Context { return s.clientContext(ctx) }

// Verify is verify.
func (s *SSO) Verify(ctx context.Context, p *lanyard.OIDCProvider, op *oidc.Provider, raw, nonce string) error {
	_, err := s.verify(ctx, p, op, raw, nonce)
	return err
}

// Refusal is a refusal's recorded reason and cause ("", nil when err is
// no refusal).
func Refusal(err error) (reason string, cause error) {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason, r.cause
	}
	return "", nil
}

// SignInClaims is signIn with verified claims (iss and sub among them).
func (s *SSO) SignInClaims(ctx context.Context, p *lanyard.OIDCProvider, claims map[string]any) (*SignIn, error) {
	iss, _ := claims["iss"].(string)
	sub, _ := claims["sub"].(string)
	return s.signIn(ctx, p, &idClaims{Issuer: iss, Subject: sub, all: claims})
}

// SecondFactor is secondFactor.
func SecondFactor(p *lanyard.OIDCProvider, claims map[string]any, now time.Time) (string, time.Time) {
	return secondFactor(p, claims, now)
}

// SetBeforeBind sets the hook signIn runs between its read of the
// account and bind's transaction (nil: none).
func (s *SSO) SetBeforeBind(f func()) { s.beforeBind = f }

// SetMaxLogins sets the cap on sign-ins under way per provider.
func (s *SSO) SetMaxLogins(n int) { s.maxLogins = n }
