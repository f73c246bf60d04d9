package identity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestTokenByTokenExpiresWithParent: a token needs no second factor to
// mint another, so the child may not outlive it (issue 13, M2): a 1-hour
// administrator token must not become a 90-day all-roles token, nor a
// chain of them live for ever.
func TestTokenByTokenExpiresWithParent(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	parent, err := e.svc.Identity.CreateToken(ctx, e.ad, identity.TokenInput{Name: "one hour", TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if parent.Notice != "" {
		t.Errorf("a token made without a token has the notice %q", parent.Notice)
	}
	p := e.tokenPrincipal(t, parent.Secret)
	for _, in := range []identity.TokenInput{{Name: "default"}, {Name: "asked for 30 days", TTL: "720h"}} {
		child, err := e.svc.Identity.CreateToken(ctx, p, in)
		if err != nil {
			t.Fatalf("%s: %v", in.Name, err)
		}
		if !child.Token.ExpiresAt.Equal(parent.Token.ExpiresAt) {
			t.Errorf("%s: a token made by a 1-hour token expires at %v, after its parent (%v)", in.Name, child.Token.ExpiresAt, parent.Token.ExpiresAt)
		}
		if !strings.Contains(child.Notice, "expires at") {
			t.Errorf("%s: the shortened lifetime is not said: notice %q", in.Name, child.Notice)
		}
		// The grandchild, made later, still ends with the first token.
		e.clock.Add(10 * time.Minute)
		grand, err := e.svc.Identity.CreateToken(ctx, e.tokenPrincipal(t, child.Secret), identity.TokenInput{Name: "grandchild"})
		if err != nil {
			t.Fatal(err)
		}
		if grand.Token.ExpiresAt.After(parent.Token.ExpiresAt) {
			t.Errorf("%s: a token chain outlives its first token: %v", in.Name, grand.Token.ExpiresAt)
		}
	}
	// Shorter than the parent: kept, no notice.
	short, err := e.svc.Identity.CreateToken(ctx, p, identity.TokenInput{Name: "short", TTL: "10m"})
	if err != nil || short.Notice != "" || !short.Token.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) {
		t.Fatalf("a shorter child: %+v %v", short, err)
	}
}

// TestLoweringTokenCapShortensTokens: lowering the longest token lifetime
// applies to the tokens that exist (issue 13, M3), measured from when each
// was made, and ends at once those older than the new cap, even while
// they are cached.
func TestLoweringTokenCapShortensTokens(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	old, err := e.svc.Identity.CreateToken(ctx, e.ad, identity.TokenInput{Name: "old"})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(40 * 24 * time.Hour)
	recent, err := e.svc.Identity.CreateToken(ctx, e.ad, identity.TokenInput{Name: "recent"})
	if err != nil {
		t.Fatal(err)
	}
	e.tokenPrincipal(t, old.Secret) // cached with its old expiry
	if _, err := e.svc.Identity.PutTokenSettings(ctx, e.ad, identity.TokenSettings{MaxTTL: "720h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Identity.AuthenticateToken(ctx, old.Secret, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Fatalf("a 40-day-old token under a 30-day cap: %v", err)
	}
	e.tokenPrincipal(t, recent.Secret)
	toks, err := e.svc.Identity.ListTokens(ctx, e.ad, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range toks {
		if k.ExpiresAt.Sub(k.CreatedAt) > 720*time.Hour {
			t.Errorf("token %q lives %v after the cap was lowered to 720h", k.Name, k.ExpiresAt.Sub(k.CreatedAt))
		}
	}
	evs := e.auditOf(t, "tokens.settings")
	if len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"tokens_shortened":2`) {
		t.Errorf("audit %+v; want one event counting 2 shortened tokens", evs)
	}
}

// tokenPrincipal authenticates with a token secret.
func (e *totpEnv) tokenPrincipal(t *testing.T, secret string) *lanyard.Principal {
	t.Helper()
	p, err := e.svc.Identity.AuthenticateToken(context.Background(), secret, remote)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return p
}

// TestTokenSettingsStoredFormat: the token policy is kept in the settings
// table as {"max_ttl": …}. The API type carries no json tags since the
// wire types moved to internal/apiv1, so the stored record has its own;
// this pins the bytes that databases already hold.
func TestTokenSettingsStoredFormat(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Identity.PutTokenSettings(ctx, e.ad, identity.TokenSettings{MaxTTL: "720h"}); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { b, err = tx.Setting("tokens"); return }); err != nil {
		t.Fatal(err)
	}
	if want := `{"max_ttl":"720h"}`; string(b) != want {
		t.Errorf("stored token settings %s, want %s", b, want)
	}
	if got, err := e.svc.Identity.TokenSettings(ctx); err != nil || got.MaxTTL != "720h" {
		t.Errorf("read back %+v, %v", got, err)
	}
}
