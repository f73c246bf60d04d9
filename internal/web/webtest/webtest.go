// Package webtest starts a whole Lanyard server for tests and benchmarks:
// a real store, the built-in CA, the service and the HTTP handler on an
// httptest listener. Nothing is faked.
package webtest

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin" // the "builtin" CA kind
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// Server is a running Lanyard server.
type Server struct {
	URL        string // base URL, e.g. http://127.0.0.1:PORT
	AdminToken string // the first-start administrator token
	Service    *service.Service
	Store      lanyard.Store
	Sealer     *seal.AESGCM
	Web        *web.Server
}

// Start runs a first start of Lanyard on st with a random master key and
// stops everything (closing st) when the test ends.
func Start(tb testing.TB, st lanyard.Store) *Server {
	tb.Helper()
	ctx := context.Background()
	key := make([]byte, seal.KeySize)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: base, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := service.New(service.Config{Store: st, Sealer: sealer, CAs: []ca.CA{authority}, Now: time.Now, Rand: rand.Reader, BaseURL: base})
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := svc.Setup(ctx)
	if err != nil || tok == "" {
		tb.Fatalf("first-start setup: token %q, %v", tok, err)
	}
	srv := web.New(web.Config{Service: svc})
	hs.Config.Handler = srv.Handler()
	hs.Start()
	tb.Cleanup(func() { hs.Close(); svc.Close(); st.Close() })
	return &Server{URL: base, AdminToken: tok, Service: svc, Store: st, Sealer: sealer, Web: srv}
}
