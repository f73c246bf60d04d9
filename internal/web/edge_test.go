package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// edgeServer serves e's service through a second handler built with cfg
// (the edge settings under test), sharing e's store, service and login
// throttle.
func edgeServer(t *testing.T, e *env, cfg web.Config) string {
	t.Helper()
	cfg.Identity, cfg.Catalog, cfg.PKI = e.svc.Identity, e.svc.Catalog, e.svc.PKI
	cfg.Documents, cfg.Workstations = e.svc.Documents, e.svc.Workstations
	cfg.Cards, cfg.Audit, cfg.Archive, cfg.Ready = e.svc.Cards, e.svc.Audit, e.svc.Archive, e.svc.Store()
	hs := httptest.NewServer(web.New(cfg).Handler())
	t.Cleanup(hs.Close)
	return hs.URL
}

func mustProxies(t *testing.T, list string) []net.IPNet {
	t.Helper()
	nets, err := web.ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return nets
}

// post sends a JSON body to base+path with extra headers.
func post(t *testing.T, base, path, body string, hdr ...string) *http.Response {
	t.Helper()
	res, _ := send(t, "POST", base+path, body, nil, hdr...)
	return res
}

// send sends a request with an optional cookie and returns the answer and
// its body.
func send(t *testing.T, method, url, body string, ck *http.Cookie, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// lastLoginFailure is the address audited with the latest failed login.
func lastLoginFailure(e *env) string {
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?action=session.login_failed&limit=1000", e.admin, nil).json(&evs)
	if len(evs) == 0 {
		e.t.Fatal("no session.login_failed event")
	}
	last := evs[0]
	for _, ev := range evs {
		if ev.Seq > last.Seq {
			last = ev
		}
	}
	return last.RemoteAddr
}

// Issue 13 item 8: behind a trusted proxy the client is the rightmost
// X-Forwarded-For address the proxy appended; what the client wrote to
// the left of it changes neither the audited address nor the throttle key.
func TestClientAddressBehindTrustedProxy(t *testing.T) {
	e := mustEnv(t)
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "olga", "password": "correct horse battery"})
	// The test client connects from 127.0.0.1: it plays the proxy.
	base := edgeServer(t, e, web.Config{TrustedProxies: mustProxies(t, "127.0.0.1/32, 10.0.0.0/8")})
	bad := `{"login":"olga","password":"wrong password!!"}`

	// The client forged 203.0.113.66; the proxy appended the address it saw,
	// and an inner proxy in 10/8 appended its own.
	if r := post(t, base, "/api/v1/session", bad, "X-Forwarded-For", "203.0.113.66, 198.51.100.7, 10.1.2.3"); r.StatusCode != 401 {
		t.Fatalf("wrong password: %d", r.StatusCode)
	}
	if got := lastLoginFailure(e); got != "198.51.100.7" {
		t.Errorf("audited address %q, want the proxy-appended 198.51.100.7", got)
	}

	// Rotating the forged part (and the login, so that the per-login key
	// does not lock first) does not escape the per-address throttle.
	locked := false
	for i := range 8 {
		body := fmt.Sprintf(`{"login":"nobody%d","password":"guess guess guess"}`, i)
		r := post(t, base, "/api/v1/session", body, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d, 198.51.100.8", i+1))
		if r.StatusCode == http.StatusTooManyRequests {
			locked = i >= 5
			if !locked {
				t.Fatalf("throttled after only %d failures", i)
			}
			break
		}
		if r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, r.StatusCode)
		}
	}
	if !locked {
		t.Fatal("eight failed logins from one client with rotating forged X-Forwarded-For were never throttled")
	}

	// A peer outside the trusted ranges is the client itself, whatever
	// X-Forwarded-For it sends.
	direct := edgeServer(t, e, web.Config{TrustedProxies: mustProxies(t, "10.0.0.0/8")})
	post(t, direct, "/api/v1/session", bad, "X-Forwarded-For", "198.51.100.9")
	if got := lastLoginFailure(e); got != "127.0.0.1" {
		t.Errorf("untrusted peer audited as %q, want 127.0.0.1", got)
	}
	// Without trusted proxies the header is ignored altogether.
	post(t, edgeServer(t, e, web.Config{}), "/api/v1/session", bad, "X-Forwarded-For", "198.51.100.10")
	if got := lastLoginFailure(e); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: audited as %q, want 127.0.0.1", got)
	}
	if _, err := web.ParseTrustedProxies("10.0.0.0/8,not-an-address"); err == nil {
		t.Error("a bad trusted proxy range was accepted")
	}
}

// Issue 13 item 12: over HTTPS (--secure-cookies, e.g. behind a
// TLS-terminating proxy) the session cookie is Secure with the __Host-
// prefix and every response carries HSTS; over plain HTTP neither.
func TestSecureCookiesAndHSTS(t *testing.T) {
	e := mustEnv(t)
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "olga", "password": "correct horse battery"})
	good := `{"login":"olga","password":"correct horse battery"}`
	for _, tc := range []struct {
		secure bool
		name   string
	}{{false, "lanyard_session"}, {true, "__Host-lanyard_session"}} {
		t.Run(fmt.Sprintf("secure=%v", tc.secure), func(t *testing.T) {
			base := edgeServer(t, e, web.Config{SecureCookies: tc.secure})
			res, body := send(t, "POST", base+"/api/v1/session", good, nil)
			if res.StatusCode != 201 {
				t.Fatalf("login: %d", res.StatusCode)
			}
			var info apiv1.SessionInfo
			json.Unmarshal(body, &info)
			cks := res.Cookies()
			if len(cks) != 1 {
				t.Fatalf("cookies %v", cks)
			}
			ck := cks[0]
			if ck.Name != tc.name || ck.Secure != tc.secure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie %q: name %q secure %v path %q domain %q httponly %v samesite %v",
					res.Header.Get("Set-Cookie"), ck.Name, ck.Secure, ck.Path, ck.Domain, ck.HttpOnly, ck.SameSite)
			}
			for _, path := range []string{"/api/v1/session", "/login", "/healthz"} {
				r, _ := send(t, "GET", base+path, "", ck)
				hsts := r.Header.Get("Strict-Transport-Security")
				if tc.secure != strings.HasPrefix(hsts, "max-age=") {
					t.Errorf("GET %s: Strict-Transport-Security %q", path, hsts)
				}
				if path == "/api/v1/session" && r.StatusCode != 200 {
					t.Errorf("whoami with the %s cookie: %d", ck.Name, r.StatusCode)
				}
			}
			// In secure mode a cookie under the plain name (which a plain
			// HTTP page or a sibling host could have set) is not a session.
			if tc.secure {
				if r, _ := send(t, "GET", base+"/api/v1/session", "", &http.Cookie{Name: "lanyard_session", Value: ck.Value}); r.StatusCode != 401 {
					t.Errorf("plain-named cookie accepted in secure mode: %d", r.StatusCode)
				}
			}
			// Logout clears the cookie under the same name and attributes.
			r, _ := send(t, "DELETE", base+"/api/v1/session", "", ck, "X-CSRF-Token", info.CSRFToken)
			if r.StatusCode != 204 || len(r.Cookies()) != 1 {
				t.Fatalf("logout: %d, cookies %q", r.StatusCode, r.Header.Values("Set-Cookie"))
			}
			if c := r.Cookies()[0]; c.Name != tc.name || c.MaxAge >= 0 || c.Value != "" || c.Secure != tc.secure || c.Path != "/" {
				t.Errorf("logout cookie %q", r.Header.Get("Set-Cookie"))
			}
		})
	}
}
