package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// env is a real Lanyard server over a real SQLite database in a temp dir.
type env struct {
	t      *testing.T
	url    string
	admin  string // bootstrap administrator token
	svc    *service.Service
	store  lanyard.Store
	dbPath string
	srv    *web.Server
}

func mustEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "lanyard.db")
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, _ := seal.New(key)
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	authority, err := ca.New(ctx, "builtin", ca.Config{Name: "builtin", Store: st, Sealer: sealer, BaseURL: base, Now: time.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Store: st, Sealer: sealer, CAs: []ca.CA{authority}, Now: time.Now, Rand: rand.Reader, BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Setup(ctx)
	if err != nil || tok == "" {
		t.Fatalf("Setup: %q %v", tok, err)
	}
	srv := web.New(web.Config{Service: svc})
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() { hs.Close(); svc.Close(); st.Close() })
	return &env{t: t, url: base, admin: tok, svc: svc, store: st, dbPath: dbPath, srv: srv}
}

// resp is a decoded answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r *resp) json(v any) {
	if err := json.Unmarshal(r.body, v); err != nil {
		panic("decoding " + string(r.body) + ": " + err.Error())
	}
}

// problem decodes a problem+json answer.
func (r *resp) problem() web.Problem {
	var p web.Problem
	json.Unmarshal(r.body, &p)
	return p
}

// do sends a request with a bearer token ("" = none) and a body that is
// JSON-encoded unless it is already []byte or string.
func (e *env) do(method, path, token string, body any, hdr ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: data}
}

// must sends and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any) *resp {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// auditCount returns the number of audit events.
func (e *env) auditCount() int {
	e.t.Helper()
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?limit=1000", e.admin, nil).json(&evs)
	return len(evs)
}

// mustUser creates a user with roles and returns a token for them.
func (e *env) mustUser(login string, roles ...lanyard.Role) string {
	e.t.Helper()
	in := map[string]any{"login": login, "email": login + "@example.com", "upn": login + "@example.com", "display_name": "User " + login}
	if len(roles) > 0 {
		in["roles"] = roles
	}
	e.must(201, "POST", "/api/v1/users", e.admin, in)
	var tok service.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"user": login, "ttl": "1h"}).json(&tok)
	return tok.Secret
}
