package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// bootstrapService starts a service on a new store with o's bootstrap
// settings and a fake clock, and runs Setup; it returns the bootstrap
// token.
func bootstrapService(t *testing.T, o servicetest.Options) (*service.Service, *servicetest.Clock, string) {
	t.Helper()
	clock := servicetest.NewClock(time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC))
	o.Now = clock.Now
	s := servicetest.New(t, o)
	if s.Token == "" {
		t.Fatal("Setup made no bootstrap token")
	}
	return s.Service, clock, s.Token
}

// The first-start token lives 24 hours unless configured otherwise, and
// TokenWorks follows it without touching it.
func TestBootstrapTokenLifetime(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ttl, want time.Duration
	}{{0, 24 * time.Hour}, {90 * time.Minute, 90 * time.Minute}} {
		svc, clock, tok := bootstrapService(t, servicetest.Options{BootstrapTokenTTL: tc.ttl})
		p, err := svc.Identity.AuthenticateToken(ctx, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		toks, err := svc.Identity.ListTokens(ctx, p, false)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		if got := toks[0].ExpiresAt.Sub(toks[0].CreatedAt); got != tc.want {
			t.Errorf("TTL %s: the bootstrap token lives %s, want %s", tc.ttl, got, tc.want)
		}
		clock.Add(tc.want - time.Second)
		if ok, err := svc.Identity.TokenWorks(ctx, tok); !ok || err != nil {
			t.Errorf("TTL %s: TokenWorks before expiry = %v, %v", tc.ttl, ok, err)
		}
		clock.Add(time.Second)
		if ok, err := svc.Identity.TokenWorks(ctx, tok); ok || err != nil {
			t.Errorf("TTL %s: TokenWorks at expiry = %v, %v", tc.ttl, ok, err)
		}
	}
	for _, bad := range []time.Duration{-time.Hour, identity.MaxTokenTTL + time.Hour} {
		if _, err := service.New(service.Config{BootstrapTokenTTL: bad}); err == nil {
			t.Errorf("New accepted a bootstrap token lifetime of %s", bad)
		}
	}
}

// TokensRevoked is called after every committed revocation: a token
// revoked by id, and the tokens a staff password reset revokes.
func TestTokensRevokedHook(t *testing.T) {
	ctx := context.Background()
	calls := 0
	svc, _, tok := bootstrapService(t, servicetest.Options{TokensRevoked: func() { calls++ }})
	admin, err := svc.Identity.AuthenticateToken(ctx, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Identity.RevokeToken(ctx, admin, 999); err == nil || calls != 0 {
		t.Fatalf("revoking a missing token: %v, %d calls", err, calls)
	}
	if err := svc.Identity.RevokeToken(ctx, admin, admin.TokenID); err != nil || calls != 1 {
		t.Fatalf("revoking the bootstrap token: %v, %d calls", err, calls)
	}
	if ok, err := svc.Identity.TokenWorks(ctx, tok); ok || err != nil {
		t.Fatalf("TokenWorks after revocation = %v, %v", ok, err)
	}
	pw, rs := "ada's password here", lanyard.Roles{lanyard.RoleUser, lanyard.RoleAuditor}
	if _, err := svc.Identity.CreateUser(ctx, admin, identity.UserInput{Login: "ada", Password: &pw, Roles: &rs}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Identity.CreateToken(ctx, admin, identity.TokenInput{User: "ada"}); err != nil {
		t.Fatal(err)
	}
	pw = "reset by the administrator"
	if _, err := svc.Identity.UpdateUser(ctx, admin, "ada", identity.UserInput{Password: &pw}); err != nil || calls != 2 {
		t.Fatalf("staff password reset: %v, %d calls", err, calls)
	}
}
