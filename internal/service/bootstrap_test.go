package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
)

// bootstrapService starts a service on a new store with cfg's bootstrap
// settings and a fake clock, and runs Setup; it returns the bootstrap
// token.
func bootstrapService(t *testing.T, cfg service.Config) (*service.Service, *fakeClock, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC)}
	cfg.Store, cfg.Sealer, cfg.CAs, cfg.Now, cfg.Rand = st, sealer, []ca.CA{authority}, clock.Now, rand.Reader
	svc, err := service.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close(); st.Close() })
	tok, err := svc.Setup(ctx)
	if err != nil || tok == "" {
		t.Fatalf("Setup: %q %v", tok, err)
	}
	return svc, clock, tok
}

// The first-start token lives 24 hours unless configured otherwise, and
// TokenWorks follows it without touching it.
func TestBootstrapTokenLifetime(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		ttl, want time.Duration
	}{{0, 24 * time.Hour}, {90 * time.Minute, 90 * time.Minute}} {
		svc, clock, tok := bootstrapService(t, service.Config{BootstrapTokenTTL: tc.ttl})
		p, err := svc.AuthenticateToken(ctx, tok, "")
		if err != nil {
			t.Fatal(err)
		}
		toks, err := svc.ListTokens(ctx, p, false)
		if err != nil || len(toks) != 1 {
			t.Fatalf("tokens: %v %v", toks, err)
		}
		if got := toks[0].ExpiresAt.Sub(toks[0].CreatedAt); got != tc.want {
			t.Errorf("TTL %s: the bootstrap token lives %s, want %s", tc.ttl, got, tc.want)
		}
		clock.Add(tc.want - time.Second)
		if ok, err := svc.TokenWorks(ctx, tok); !ok || err != nil {
			t.Errorf("TTL %s: TokenWorks before expiry = %v, %v", tc.ttl, ok, err)
		}
		clock.Add(time.Second)
		if ok, err := svc.TokenWorks(ctx, tok); ok || err != nil {
			t.Errorf("TTL %s: TokenWorks at expiry = %v, %v", tc.ttl, ok, err)
		}
	}
	for _, bad := range []time.Duration{-time.Hour, service.MaxTokenTTL + time.Hour} {
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
	svc, _, tok := bootstrapService(t, service.Config{TokensRevoked: func() { calls++ }})
	admin, err := svc.AuthenticateToken(ctx, tok, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RevokeToken(ctx, admin, 999); err == nil || calls != 0 {
		t.Fatalf("revoking a missing token: %v, %d calls", err, calls)
	}
	if err := svc.RevokeToken(ctx, admin, admin.TokenID); err != nil || calls != 1 {
		t.Fatalf("revoking the bootstrap token: %v, %d calls", err, calls)
	}
	if ok, err := svc.TokenWorks(ctx, tok); ok || err != nil {
		t.Fatalf("TokenWorks after revocation = %v, %v", ok, err)
	}
	pw, rs := "ada's password here", lanyard.Roles{lanyard.RoleUser, lanyard.RoleAuditor}
	if _, err := svc.CreateUser(ctx, admin, service.UserInput{Login: "ada", Password: &pw, Roles: &rs}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateToken(ctx, admin, service.TokenInput{User: "ada"}); err != nil {
		t.Fatal(err)
	}
	pw = "reset by the administrator"
	if _, err := svc.UpdateUser(ctx, admin, "ada", service.UserInput{Password: &pw}); err != nil || calls != 2 {
		t.Fatalf("staff password reset: %v, %d calls", err, calls)
	}
}
