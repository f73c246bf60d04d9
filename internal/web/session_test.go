package web_test

import (
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

func TestBrowserSessionCSRFAndThrottle(t *testing.T) {
	e := mustEnv(t)
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "olga", "roles": []string{"operator"}, "password": "correct horse battery"})

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	send := func(method, path, body string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		r, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r
	}

	r := send("POST", "/api/v1/session", `{"login":"olga","password":"wrong password!!"}`)
	if r.StatusCode != 401 {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	// olga is staff: the password step sets only the login cookie, and
	// the code step (an enrollment, her first login) the session's.
	pw := e.do("POST", "/api/v1/session", "", map[string]string{"login": "olga", "password": "correct horse battery"})
	if pw.status != 202 {
		t.Fatalf("password step: %d %s", pw.status, pw.body)
	}
	var pending apiv1.LoginPending
	pw.json(&pending)
	if pending.SecondFactor != "enroll" || pending.Secret == "" {
		t.Fatalf("pending %+v", pending)
	}
	lck := pw.header.Get("Set-Cookie")
	for _, attr := range []string{"lanyard_login=", "HttpOnly", "SameSite=Strict", "Path=/api/v1/session/second-factor"} {
		if !strings.Contains(lck, attr) {
			t.Errorf("login cookie %q lacks %s", lck, attr)
		}
	}
	webtest.RememberTOTP(e.url, "olga", pending.Secret)
	login := e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": webtest.TOTPCode(t, e.url, "olga")}, "Cookie", strings.Split(lck, ";")[0])
	if login.status != 201 {
		t.Fatalf("login: %d %s", login.status, login.body)
	}
	var info apiv1.SessionInfo
	login.json(&info)
	if info.CSRFToken == "" || info.User.Login != "olga" || info.SecondFactorAt.IsZero() {
		t.Fatalf("session info %+v", info)
	}
	ck := ""
	for _, c := range login.header.Values("Set-Cookie") {
		if strings.Contains(c, "lanyard_session=") {
			ck = c
		}
	}
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(ck, attr) {
			t.Errorf("cookie %q lacks %s", ck, attr)
		}
	}
	if strings.Contains(ck, "Secure") {
		t.Errorf("cookie %q is Secure on plain HTTP", ck)
	}
	cookie := strings.Split(ck, ";")[0]

	// Reads work with the cookie alone; writes need the CSRF header.
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("whoami: %d", r.status)
	}
	create := map[string]string{"login": "newbie"}
	if r := e.do("POST", "/api/v1/users", "", create, "Cookie", cookie); r.status != 403 || r.problem().Code != "forbidden" {
		t.Fatalf("write without CSRF: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/users", "", create, "Cookie", cookie, "X-CSRF-Token", "wrong"); r.status != 403 {
		t.Fatalf("write with wrong CSRF: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/users", "", create, "Cookie", cookie, "X-CSRF-Token", info.CSRFToken); r.status != 201 {
		t.Fatalf("write with CSRF: %d %s", r.status, r.body)
	}
	// Logout ends the session for good.
	if r := e.do("DELETE", "/api/v1/session", "", nil, "Cookie", cookie, "X-CSRF-Token", info.CSRFToken); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", cookie); r.status != 401 {
		t.Fatalf("after logout: %d", r.status)
	}

	// Five failures lock the login out, even for the right password. The
	// wrong password at the start is the first on this address: the
	// success since cleared the account's count, not the address's.
	for i := 0; i < 4; i++ {
		if r := send("POST", "/api/v1/session", `{"login":"olga","password":"guess guess guess"}`); r.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i, r.StatusCode)
		}
	}
	r = send("POST", "/api/v1/session", `{"login":"olga","password":"correct horse battery"}`)
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d Retry-After=%q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	// Failed logins are audited without the password.
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?action=session.login_failed&limit=100", e.admin, nil).json(&evs)
	if len(evs) < 5 {
		t.Fatalf("login failures audited: %d", len(evs))
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Details), "guess") {
			t.Fatal("password in audit log")
		}
	}
}

func TestTokenScopeAndRevocation(t *testing.T) {
	e := mustEnv(t)
	// An auditor-only token of the administrator can read the log but not
	// change anything.
	var tok apiv1.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"roles": []string{"auditor"}, "ttl": "1h", "name": "read-only"}).json(&tok)
	if !strings.HasPrefix(tok.Secret, "lyd_") || tok.Token.Prefix == "" || strings.Contains(string(mustJSON(tok.Token)), tok.Secret) {
		t.Fatalf("token %+v", tok)
	}
	e.must(200, "GET", "/api/v1/audit", tok.Secret, nil)
	e.must(403, "POST", "/api/v1/templates", tok.Secret, map[string]string{"name": "x"})
	// Listing tokens never shows secrets or hashes.
	list := e.must(200, "GET", "/api/v1/tokens", e.admin, nil)
	if strings.Contains(string(list.body), tok.Secret) || strings.Contains(string(list.body), "hash") {
		t.Fatalf("token list leaks: %s", list.body)
	}
	e.must(204, "DELETE", "/api/v1/tokens/"+itoa(tok.Token.ID), e.admin, nil)
	e.must(401, "GET", "/api/v1/audit", tok.Secret, nil)
	// A user's token cannot be widened beyond the user's roles.
	user := e.mustUser("ulla")
	e.must(400, "POST", "/api/v1/tokens", user, map[string]any{"roles": []string{"administrator"}})
	// Disabled users' tokens stop working.
	e.must(200, "GET", "/api/v1/session", user, nil)
	e.must(200, "PATCH", "/api/v1/users/ulla", e.admin, map[string]any{"disabled": true})
	e.must(401, "GET", "/api/v1/session", user, nil)
}

func TestOperationalEndpoints(t *testing.T) {
	e := mustEnv(t)
	e.must(200, "GET", "/healthz", "", nil)
	var h apiv1.Health
	e.must(200, "GET", "/readyz", "", nil).json(&h)
	if h.Engine != "sqlite" {
		t.Fatalf("readyz %+v", h)
	}
	e.must(200, "GET", "/api/v1/templates", e.admin, nil)
	m := e.must(200, "GET", "/metrics", "", nil)
	for _, want := range []string{"lanyard_http_requests_total", `route="/api/v1/templates"`, "lanyard_certificates_issued_total", "go_goroutines"} {
		if !strings.Contains(string(m.body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	ca := e.must(200, "GET", "/ca/builtin.crt", "", nil)
	if ca.header.Get("Content-Type") != "application/pkix-cert" || len(ca.body) < 100 {
		t.Fatalf("CA cert: %q %d bytes", ca.header.Get("Content-Type"), len(ca.body))
	}
	e.must(404, "GET", "/crl/nope.crl", "", nil)
}

func mustJSON(v any) []byte {
	b, _ := jsonMarshal(v)
	return b
}
