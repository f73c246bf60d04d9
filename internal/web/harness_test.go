package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
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
	mon    *monitor.Monitor
}

func mustEnv(t *testing.T) *env {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "lanyard.db")
	st, err := sqlitetest.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	s := webtest.Start(t, st)
	return &env{t: t, url: s.URL, admin: s.AdminToken, svc: s.Service, store: st, dbPath: dbPath, srv: s.Web, mon: s.Monitor}
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
	var tok apiv1.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"user": login, "ttl": "1h"}).json(&tok)
	return tok.Secret
}
