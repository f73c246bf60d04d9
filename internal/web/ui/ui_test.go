package ui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// site is a real Lanyard server (SQLite, built-in CA) for page tests.
type site struct {
	t   testing.TB
	srv *webtest.Server
}

// password is the test users' password.
const password = "correct horse battery"

func mustSite(t testing.TB) *site {
	t.Helper()
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	return &site{t: t, srv: webtest.Start(t, st)}
}

// api calls the JSON API with the bootstrap administrator's token.
func (s *site) api(method, path string, body any) (int, []byte) {
	s.t.Helper()
	return s.apiAs(s.srv.AdminToken, method, path, body)
}

// apiAs calls the JSON API with token.
func (s *site) apiAs(token, method, path string, body any) (int, []byte) {
	s.t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// mustUser creates a user with a password and roles.
func (s *site) mustUser(login, password string, roles ...string) {
	s.t.Helper()
	if len(roles) == 0 {
		roles = []string{"user"}
	}
	in := map[string]any{"login": login, "display_name": "User " + login, "email": login + "@example.com", "password": password, "roles": roles}
	if code, b := s.api("POST", "/api/v1/users", in); code != 201 {
		s.t.Fatalf("create user %s: %d %s", login, code, b)
	}
}

// cookie logs in (second factor included, webtest.Login) and returns the
// session cookie header value.
func (s *site) cookie(login, password string) string {
	s.t.Helper()
	ck, _ := webtest.Login(s.t, s.srv.URL, login, password)
	return ck
}

type page struct {
	status int
	header http.Header
	body   string
}

// get fetches a page without following redirects.
func (s *site) get(path, cookie string) page {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.srv.URL+path, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(b)}
}

func TestPagesRedirectToLoginWithoutSession(t *testing.T) {
	s := mustSite(t)
	for _, path := range []string{"/", "/cards/7", "/workstations", "/secret-questions", "/authenticator", "/console/", "/console/users", "/console/policies/default"} {
		p := s.get(path, "")
		if p.status != http.StatusSeeOther {
			t.Fatalf("%s: status %d, want 303", path, p.status)
		}
		if loc := p.header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") || !strings.Contains(loc, strings.ReplaceAll(path, "/", "%2F")) {
			t.Errorf("%s: Location %q", path, loc)
		}
	}
	// A stale or forged cookie is no session either.
	if p := s.get("/", "lanyard_session=forged"); p.status != http.StatusSeeOther {
		t.Fatalf("forged cookie: status %d", p.status)
	}
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", "correct horse battery")
	ck := s.cookie("ann", "correct horse battery")
	for _, c := range []struct{ path, cookie string }{
		{"/login", ""}, {"/", ""}, {"/", ck}, {"/static/css/lanyard.css", ""}, {"/static/js/api.js", ""}, {"/no-such-page", ck}, {"/console/", ck},
	} {
		p := s.get(c.path, c.cookie)
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", c.path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", c.path, csp)
		}
		if p.header.Get("X-Frame-Options") != "DENY" || p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Frame-Options %q, X-Content-Type-Options %q", c.path, p.header.Get("X-Frame-Options"), p.header.Get("X-Content-Type-Options"))
		}
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	inlineStyle  = regexp.MustCompile(`\sstyle=|<style`)
	inlineEvent  = regexp.MustCompile(`\son[a-z]+=`)
	scriptSrc    = regexp.MustCompile(`<script type="module" src="([^"]+)"`)
)

// TestSecretQuestionsPageSaysWhatAnswersAreFor: the page says what the
// answers are used for — Remote Self-Service, the PIN reset and offline
// unblock (issue 16) — and no longer that unblocking is not available.
func TestSecretQuestionsPageSaysWhatAnswersAreFor(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", "correct horse battery")
	p := s.get("/secret-questions", s.cookie("ann", "correct horse battery"))
	if p.status != 200 {
		t.Fatalf("status %d: %s", p.status, p.body)
	}
	if strings.Contains(p.body, "not available yet") {
		t.Error("the page still says the unblock is not available")
	}
	for _, want := range []string{"Remote Self-Service", "unblocks your card offline", "reset a forgotten or blocked PIN", "lanyard agent unblock"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the page does not say %q", want)
		}
	}
}

func TestPagesRenderForStaff(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", "correct horse battery", "administrator", "ca_manager")
	ck := s.cookie("root", "correct horse battery")
	for _, path := range []string{
		"/", "/cards/1", "/workstations", "/secret-questions", "/authenticator",
		"/console/", "/console/users", "/console/cards", "/console/cards/1", "/console/requests", "/console/workstations",
		"/console/policies", "/console/policies/default", "/console/card-types", "/console/card-types/piv",
		"/console/templates", "/console/templates/x?new=1", "/console/directory",
	} {
		p := s.get(path, ck)
		if p.status != 200 {
			t.Fatalf("%s: status %d: %s", path, p.status, p.body)
		}
		if ct := p.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		if p.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: pages must not be cached (they carry the CSRF token)", path)
		}
		for _, want := range []string{`<html lang="en">`, "<h1", `<main id="main"`, `name="csrf-token" content="`, `content="root"`, "Signed in as <strong>User root</strong>"} {
			if !strings.Contains(p.body, want) {
				t.Errorf("%s: page lacks %q", path, want)
			}
		}
		if inlineScript.MatchString(p.body) || inlineStyle.MatchString(p.body) || inlineEvent.MatchString(p.body) {
			t.Errorf("%s: page has inline script, style or event handler", path)
		}
		m := scriptSrc.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("%s: no page script", path)
		}
		if js := s.get(m[1], ""); js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") {
			t.Errorf("%s: script %s: status %d, type %q", path, m[1], js.status, js.header.Get("Content-Type"))
		}
	}
	// The console's object pages carry what their script needs.
	if p := s.get("/console/policies/default", ck); !strings.Contains(p.body, `data-kind="policies"`) || !strings.Contains(p.body, `data-name="default"`) {
		t.Errorf("policy page lacks its data attributes")
	}
	if p := s.get("/console/cards/42", ck); !strings.Contains(p.body, `data-id="42"`) {
		t.Errorf("card page lacks data-id")
	}
}

func TestConsoleRefusesOrdinaryUsers(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ulla", "correct horse battery")
	ck := s.cookie("ulla", "correct horse battery")
	p := s.get("/console/users", ck)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "Not allowed") || !strings.Contains(p.body, "management console is for operators") {
		t.Fatalf("console for a user: %d %s", p.status, p.body)
	}
	if strings.Contains(p.body, `href="/console/users"`) {
		t.Errorf("refusal page shows console navigation")
	}
	if p := s.get("/", ck); p.status != 200 || strings.Contains(p.body, `href="/console/"`) {
		t.Errorf("Self-Service for a user: %d, console link shown: %v", p.status, strings.Contains(p.body, `href="/console/"`))
	}
}

func TestLoginPage(t *testing.T) {
	s := mustSite(t)
	p := s.get("/login?next=/console/", "")
	if p.status != 200 {
		t.Fatalf("login page: %d", p.status)
	}
	for _, want := range []string{`<label for="login">`, `<label for="password">`, `autocomplete="current-password"`, `role="alert"`, `method="post"`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(p.body, "csrf-token") {
		t.Errorf("login page carries a CSRF token without a session")
	}
	// Without its script the form posts to /login, which explains and
	// never echoes what was typed.
	res, err := http.PostForm(s.srv.URL+"/login", map[string][]string{"login": {"ann"}, "password": {"s3cret-typed"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(b), "JavaScript is needed") || strings.Contains(string(b), "s3cret-typed") {
		t.Fatalf("form post without script: %d %s", res.StatusCode, b)
	}
	// Signed in already: straight on, but only to paths on this site.
	s.mustUser("ann", "correct horse battery")
	ck := s.cookie("ann", "correct horse battery")
	for next, want := range map[string]string{"/workstations": "/workstations", "//evil.example/": "/", "https://evil.example/": "/", "/\\evil": "/"} {
		p := s.get("/login?next="+next, ck)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != want {
			t.Errorf("next=%s: %d → %q, want %q", next, p.status, p.header.Get("Location"), want)
		}
	}
}

func TestUnknownPageAndStaticFiles(t *testing.T) {
	s := mustSite(t)
	if p := s.get("/nothing/here", ""); p.status != 404 || !strings.Contains(p.body, "Page not found") {
		t.Fatalf("unknown page: %d", p.status)
	}
	if p := s.get("/static/js/nope.js", ""); p.status != 404 {
		t.Fatalf("unknown static file: %d", p.status)
	}
	// The API keeps answering problem+json, not pages.
	if p := s.get("/api/v1/nothing", ""); p.status != 404 || p.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown API route: %d %q", p.status, p.header.Get("Content-Type"))
	}
	css := s.get("/static/css/lanyard.css", "")
	etag := css.header.Get("ETag")
	if css.status != 200 || etag == "" || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("css: %d, etag %q, type %q", css.status, etag, css.header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", s.srv.URL+"/static/css/lanyard.css", nil)
	req.Header.Set("If-None-Match", etag)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", res.StatusCode)
	}
}

// The console offers "Issue a card" only to those who may issue for
// someone else (operators, administrators): a CA manager or a document
// officer does not see a page that would refuse them.
func TestConsoleNavOffersIssueToCardStaffOnly(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olga", "correct horse battery", "operator")
	s.mustUser("carl", "correct horse battery", "ca_manager")
	s.mustUser("dora", "correct horse battery", "document_officer")
	for login, want := range map[string]bool{"olga": true, "carl": false, "dora": false} {
		p := s.get("/console/", s.cookie(login, "correct horse battery"))
		if p.status != 200 {
			t.Fatalf("%s: console status %d", login, p.status)
		}
		if got := strings.Contains(p.body, `href="/console/issue"`); got != want {
			t.Errorf("%s sees \"Issue a card\": %v, want %v", login, got, want)
		}
	}
}
