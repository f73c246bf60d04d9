package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
)

// The file of an expired bootstrap token goes at the next check (a
// restart, the schedule); a live one stays; the demo then makes a new
// one so that make run and the README's "Try it" keep working.
func TestBootstrapTokenFileCheckAndDemoRenewal(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(data, "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := seal.New(bytes.Repeat([]byte{3}, seal.KeySize))
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: "http://127.0.0.1:1", Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	var ahead atomic.Int64 // how far the service's clock is ahead of time.Now
	now := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	b := newBootstrapTokenFile(data, slog.New(slog.DiscardHandler))
	svc, err := service.New(service.Config{Store: st, Sealer: sealer, CAs: []ca.CA{authority}, Now: now, Rand: rand.Reader,
		TokensRevoked: func() { b.check(ctx) }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	b.svc = svc
	tok, err := svc.Setup(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
	p, err := svc.AuthenticateToken(ctx, strings.TrimSpace(string(raw)), "")
	if err != nil || p.User.Login != service.BootstrapLogin {
		t.Fatalf("the demo's new token: %v %v", p, err)
	}
	// Revoked in process (the API, the console): the hook deletes it.
	if err := svc.RevokeToken(ctx, p, p.TokenID); err != nil {
		t.Fatal(err)
	}
	if b.exists() {
		t.Fatal("the file of a revoked bootstrap token is still there")
	}
}
