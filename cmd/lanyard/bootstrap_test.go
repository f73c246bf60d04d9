package main

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// The file of an expired bootstrap token goes at the next check (a
// restart, the schedule); a live one stays; the demo then makes a new
// one so that make run and the README's "Try it" keep working.
func TestBootstrapTokenFileCheckAndDemoRenewal(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	var ahead atomic.Int64 // how far the service's clock is ahead of time.Now
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	b := newBootstrapTokenFile(data, slog.New(slog.DiscardHandler))
	stack := servicetest.New(t, servicetest.Options{Dir: data, Now: now, TokensRevoked: func() { b.check(ctx) }})
	svc, tok := stack.Service, stack.Token
	b.svc = svc
	if err := b.write(tok); err != nil {
		t.Fatal(err)
	}

	ahead.Add(int64(service.DefaultBootstrapTokenTTL - time.Minute))
	b.check(ctx)
	if !b.exists() {
		t.Fatal("the file of a live bootstrap token was deleted")
	}
	if renewed, err := b.renewForDemo(ctx, svc, "1h"); renewed || err != nil {
		t.Fatalf("the demo renewed a live token: %v %v", renewed, err)
	}
	ahead.Add(int64(time.Minute))
	b.check(ctx)
	if b.exists() {
		t.Fatal("the file of an expired bootstrap token is still there")
	}

	renewed, err := b.renewForDemo(ctx, svc, "1h")
	if !renewed || err != nil {
		t.Fatalf("renewForDemo: %v %v", renewed, err)
	}
	raw, err := os.ReadFile(b.path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Identity.AuthenticateToken(ctx, strings.TrimSpace(string(raw)), "")
	if err != nil || p.User.Login != service.BootstrapLogin {
		t.Fatalf("the demo's new token: %v %v", p, err)
	}
	// Revoked in process (the API, the console): the hook deletes it.
	if err := svc.Identity.RevokeToken(ctx, p, p.TokenID); err != nil {
		t.Fatal(err)
	}
	if b.exists() {
		t.Fatal("the file of a revoked bootstrap token is still there")
	}
}
