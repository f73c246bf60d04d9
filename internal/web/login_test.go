package web_test

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// setCookie returns the "name=value" of the response's cookie name.
func (r *resp) setCookie(name string) string {
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, name+"=") {
			return strings.Split(c, ";")[0]
		}
	}
	return ""
}

// TestStaffLoginSecondFactorAPI: for staff, the password yields only the
// login cookie, which neither is a session nor works as one; the code (an
// enrollment on the first login) yields the session.
func TestStaffLoginSecondFactorAPI(t *testing.T) {
	e := mustEnv(t)
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "olga", "roles": []string{"operator"}, "password": "correct horse battery"})

	pw := e.must(202, "POST", "/api/v1/session", "", map[string]string{"login": "olga", "password": "correct horse battery"})
	var pending apiv1.LoginPending
	pw.json(&pending)
	lck := pw.setCookie("lanyard_login")
	if pending.SecondFactor != identity.SecondFactorEnroll || lck == "" || pw.setCookie("lanyard_session") != "" {
		t.Fatalf("password step: %+v, cookies %v", pending, pw.header.Values("Set-Cookie"))
	}
	challenge := strings.TrimPrefix(lck, "lanyard_login=")
	for _, ck := range []string{lck, "lanyard_session=" + challenge} {
		for _, path := range []string{"/api/v1/session", "/api/v1/users", "/console/"} {
			// The console page redirects to the login form (followed).
			if r := e.do("GET", path, "", nil, "Cookie", ck); r.status != 401 && !strings.Contains(string(r.body), `id="login-form"`) {
				t.Errorf("GET %s with %s: %d", path, ck, r.status)
			}
		}
	}
	if r := e.do("GET", "/api/v1/session/second-factor/qr.png", "", nil, "Cookie", lck); r.status != 200 || r.header.Get("Content-Type") != "image/png" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("QR code: %d %v", r.status, r.header)
	}
	if r := e.do("GET", "/api/v1/session/second-factor/qr.png", "", nil); r.status != 401 {
		t.Fatalf("QR code without the login cookie: %d", r.status)
	}
	r := e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": "000000"}, "Cookie", lck)
	if r.status != 401 || !strings.Contains(r.problem().Detail, "wrong code") {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	webtest.RememberTOTP(e.url, "olga", pending.Secret)
	r = e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": webtest.TOTPCode(t, e.url, "olga")}, "Cookie", lck)
	if r.status != 201 {
		t.Fatalf("code: %d %s", r.status, r.body)
	}
	var info apiv1.SessionInfo
	r.json(&info)
	session := r.setCookie("lanyard_session")
	if info.SecondFactorAt.IsZero() || session == "" || !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), "lanyard_login=; Path=/api/v1/session/second-factor") {
		t.Fatalf("session %+v, cookies %v", info, r.header.Values("Set-Cookie"))
	}
	var who apiv1.SessionInfo
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", session); r.status != 200 {
		t.Fatalf("whoami: %d", r.status)
	} else if r.json(&who); who.SecondFactorAt.IsZero() || who.User.Login != "olga" {
		t.Fatalf("whoami %+v", who)
	}
	// The second factor is fresh: a token from this session goes.
	if r := e.do("POST", "/api/v1/tokens", "", map[string]string{"name": "cli"}, "Cookie", session, "X-CSRF-Token", info.CSRFToken); r.status != 201 {
		t.Fatalf("token from a fresh session: %d %s", r.status, r.body)
	}
	// The used challenge is gone.
	if r := e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": "123456"}, "Cookie", lck); r.status != 401 || !strings.Contains(r.problem().Detail, "expired") {
		t.Fatalf("a used login cookie: %d %s", r.status, r.body)
	}

	// Wrong codes lock the login like wrong passwords, with Retry-After.
	pw = e.must(202, "POST", "/api/v1/session", "", map[string]string{"login": "olga", "password": "correct horse battery"})
	lck = pw.setCookie("lanyard_login")
	for range 5 {
		e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": "000000"}, "Cookie", lck)
	}
	// Locked: refused unchecked, whatever the code.
	r = e.do("POST", "/api/v1/session/second-factor", "", map[string]string{"code": "123456"}, "Cookie", lck)
	if ra, _ := strconv.Atoi(r.header.Get("Retry-After")); r.status != 429 || ra < 1 || ra > 30 {
		t.Fatalf("after 5 wrong codes: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
}

// TestParallelBadLoginsCountedBeforeHashing: 20 wrong passwords for one
// account at once: only as many are checked as the throttle has room for
// failures (5); the rest are refused unchecked with 429.
func TestParallelBadLoginsCountedBeforeHashing(t *testing.T) {
	e := mustEnv(t)
	e.mustUser("ulla")
	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[int]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do("POST", "/api/v1/session", "", map[string]string{"login": "ulla", "password": "wrong password!!"})
			mu.Lock()
			status[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if status[401] != 5 || status[429] != 15 {
		t.Fatalf("answers %v; want 5×401 and 15×429", status)
	}
}
