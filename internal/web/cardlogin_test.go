package web_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestCardLoginOverTLS is smart card sign-in through the HTTPS
// listener's TLS configuration (web.ListenerTLSConfig) with a Go client
// that presents a card certificate from the built-in CA: a staff
// member's card opens a session at once (the card is the second
// factor), and the session reads the console; a password login on a
// connection with the same card completes by card instead of a code.
// Without a certificate, and over plain HTTP (what a TLS-terminating
// proxy would pass on), sign-in is refused with the reason; a revoked
// card's certificate is refused on the same listener.
func TestCardLoginOverTLS(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := webtest.Start(t, st)
	hs := httptest.NewUnstartedServer(srv.Web.Handler())
	hs.TLS = web.ListenerTLSConfig()
	hs.Config.ConnContext = srv.Web.ConnContext
	hs.StartTLS()
	t.Cleanup(hs.Close)

	pw, upn, rs := "correct horse battery", "sam@example.com", lanyard.Roles{lanyard.RoleOperator}
	sam, err := srv.Service.Identity.CreateUser(ctx, lanyard.SystemPrincipal, identity.UserInput{Login: "sam", Password: &pw, UPN: &upn, Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	card := servicetest.IssueCardCert(t, st, srv.CA, sam, "smartcard-logon", "", time.Now(), nil)

	// client is an HTTPS client of the listener, presenting certs.
	client := func(certs ...tls.Certificate) *http.Client {
		c := hs.Client()
		tr := c.Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = certs
		jar, _ := cookiejar.New(nil)
		return &http.Client{Transport: tr, Jar: jar}
	}
	call := func(c *http.Client, base, method, path string, body any, header ...string) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	withCard := tls.Certificate{Certificate: [][]byte{card.X509.Raw}, PrivateKey: card.Key, Leaf: card.X509}

	c := client(withCard)
	if status, body := call(c, hs.URL, "GET", "/login", nil); status != 200 || !strings.Contains(string(body), `id="card-login-button"`) {
		t.Fatalf("the login page offers no card sign-in: %d %.300s", status, body)
	}
	status, body := call(c, hs.URL, "POST", "/api/v1/session/card", nil)
	var info apiv1.SessionInfo
	json.Unmarshal(body, &info)
	if status != 201 || info.User == nil || info.User.Login != "sam" || info.SecondFactorAt.IsZero() {
		t.Fatalf("signing in with sam's card: %d %s", status, body)
	}
	if status, body := call(c, hs.URL, "GET", "/api/v1/session", nil); status != 200 || !strings.Contains(string(body), `"login":"sam"`) {
		t.Fatalf("the card session: %d %s", status, body)
	}
	if status, body := call(c, hs.URL, "GET", "/console/users", nil); status != 200 || !strings.Contains(string(body), "Users") {
		t.Fatalf("the console with the card session: %d %.200s", status, body)
	}

	// The step-up (Set up PIN of sam's platform credential) takes the
	// card on the connection instead of a code: it passes and the set-up
	// goes on to look for the credential (not connected). The same
	// session on a connection without the card is asked for the app.
	now := time.Now()
	cred := &lanyard.Card{Serial: "pc-sam", CardType: "platform-credential", OwnerID: sam.ID, State: lanyard.CardPINSetup, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCard(cred) }); err != nil {
		t.Fatal(err)
	}
	setup := "/api/v1/cards/" + strconv.FormatInt(cred.ID, 10) + "/pin-setup"
	in := map[string]string{"password": pw, "code": "", "pin": "24682468"}
	if status, body := call(c, hs.URL, "POST", setup, in, "X-CSRF-Token", info.CSRFToken); status != 503 || !strings.Contains(string(body), "not connected") {
		t.Errorf("Set up PIN with the card as second factor: %d %s, want 503 not connected", status, body)
	}
	noCard := client()
	noCard.Jar = c.Jar
	if status, body := call(noCard, hs.URL, "POST", setup, in, "X-CSRF-Token", info.CSRFToken); !strings.Contains(string(body), "enroll an authenticator app") {
		t.Errorf("Set up PIN without the card: %d %s, want the app asked for", status, body)
	}

	// Password first, then the card instead of the authenticator app.
	c = client(withCard)
	if status, body := call(c, hs.URL, "POST", "/api/v1/session", map[string]string{"login": "sam", "password": pw}); status != 202 {
		t.Fatalf("sam's password: %d %s", status, body)
	}
	if status, body := call(c, hs.URL, "POST", "/api/v1/session/second-factor/card", nil); status != 201 || !strings.Contains(string(body), `"login":"sam"`) {
		t.Fatalf("the second step by card: %d %s", status, body)
	}

	refused := func(what string, c *http.Client, base, want string) {
		t.Helper()
		status, body := call(c, base, "POST", "/api/v1/session/card", nil)
		if status != 401 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s, want 401 with %q", what, status, body, want)
		}
	}
	refused("no certificate", client(), hs.URL, "no card certificate was presented")
	refused("plain HTTP", client(withCard), srv.URL, "no card certificate was presented")
	if _, err := srv.Service.PKI.Revoke(ctx, lanyard.SystemPrincipal, card.Record.CA, card.Record.Serial, lanyard.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	refused("revoked", client(withCard), hs.URL, "the certificate is revoked")
}

// TestCardConnectionFreshness is the card checks against a TLS handshake
// that proves nothing now. A Go client with a session cache
// (tls.ClientSessionCache) resumes its session on a listener that issues
// tickets: the resumed connection brings back the card certificate of
// the first handshake, and card sign-in, the login's second step by card
// and the step-up by card all refuse it. web.ListenerTLSConfig resumes
// no session, so there the same client shakes hands afresh and signs in.
// On a keep-alive connection older than web.CardConnectionMaxAge (the
// web layer's clock moved on) the card checks refuse and close the
// connection; the retry on a new connection passes.
func TestCardConnectionFreshness(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64
	srv := webtest.StartWith(t, st, webtest.Options{Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }})
	pw, upn, rs := "correct horse battery", "sam@example.com", lanyard.Roles{lanyard.RoleOperator}
	sam, err := srv.Service.Identity.CreateUser(ctx, lanyard.SystemPrincipal, identity.UserInput{Login: "sam", Password: &pw, UPN: &upn, Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	card := servicetest.IssueCardCert(t, st, srv.CA, sam, "smartcard-logon", "", time.Now(), nil)
	withCard := tls.Certificate{Certificate: [][]byte{card.X509.Raw}, PrivateKey: card.Key, Leaf: card.X509}
	now := time.Now()
	cred := &lanyard.Card{Serial: "pc-sam", CardType: "platform-credential", OwnerID: sam.ID, State: lanyard.CardPINSetup, CreatedAt: now, UpdatedAt: now}
	if err := st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCard(cred) }); err != nil {
		t.Fatal(err)
	}
	setup := "/api/v1/cards/" + strconv.FormatInt(cred.ID, 10) + "/pin-setup"
	stepUp := map[string]string{"password": pw, "code": "", "pin": "24682468"}

	listener := func(conf *tls.Config, h2 bool) *httptest.Server {
		hs := httptest.NewUnstartedServer(srv.Web.Handler())
		hs.TLS = conf
		hs.EnableHTTP2 = h2
		hs.Config.ConnContext = srv.Web.ConnContext
		hs.StartTLS()
		t.Cleanup(hs.Close)
		return hs
	}
	// client presents sam's card and keeps TLS sessions to resume; with
	// fresh, every request opens a new connection.
	client := func(hs *httptest.Server, fresh bool) *http.Client {
		tr := hs.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.Certificates = []tls.Certificate{withCard}
		tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(8)
		tr.DisableKeepAlives = fresh
		jar, _ := cookiejar.New(nil)
		return &http.Client{Transport: tr, Jar: jar}
	}
	type answer struct {
		status  int
		body    string
		resumed bool
		closed  bool // HTTP/1.1 Connection: close (HTTP/2: GOAWAY, unseen here)
		proto   string
	}
	call := func(c *http.Client, hs *httptest.Server, method, path string, body any, header ...string) answer {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, hs.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return answer{res.StatusCode, string(out), res.TLS != nil && res.TLS.DidResume, res.Close, res.Proto}
	}
	signIn := func(c *http.Client, hs *httptest.Server) apiv1.SessionInfo {
		t.Helper()
		a := call(c, hs, "POST", "/api/v1/session/card", nil)
		var info apiv1.SessionInfo
		json.Unmarshal([]byte(a.body), &info)
		if a.status != 201 || info.User == nil || info.User.Login != "sam" {
			t.Fatalf("signing in with sam's card (resumed %v): %d %s", a.resumed, a.status, a.body)
		}
		return info
	}

	// A listener that issues tickets: the second connection resumes.
	tickets := web.ListenerTLSConfig()
	tickets.SessionTicketsDisabled = false
	hs := listener(tickets, false)
	c := client(hs, true)
	info := signIn(c, hs)
	const resumed = "resumed an earlier session"
	if a := call(c, hs, "POST", "/api/v1/session/card", nil); !a.resumed || a.status != 401 || !strings.Contains(a.body, resumed) {
		t.Errorf("card sign-in on a resumed connection: resumed %v, %d %s", a.resumed, a.status, a.body)
	}
	if a := call(c, hs, "POST", setup, stepUp, "X-CSRF-Token", info.CSRFToken); !a.resumed || a.status != 403 || !strings.Contains(a.body, resumed) {
		t.Errorf("step-up by card on a resumed connection: resumed %v, %d %s", a.resumed, a.status, a.body)
	}
	if a := call(c, hs, "POST", "/api/v1/session", map[string]string{"login": "sam", "password": pw}); a.status != 202 {
		t.Fatalf("sam's password: %d %s", a.status, a.body)
	}
	if a := call(c, hs, "POST", "/api/v1/session/second-factor/card", nil); !a.resumed || a.status != 401 || !strings.Contains(a.body, resumed) {
		t.Errorf("the second step by card on a resumed connection: resumed %v, %d %s", a.resumed, a.status, a.body)
	}

	// Lanyard's listener: no session resumes, every connection's card counts.
	hs = listener(web.ListenerTLSConfig(), false)
	c = client(hs, true)
	for range 2 {
		info = signIn(c, hs)
	}
	if a := call(c, hs, "POST", setup, stepUp, "X-CSRF-Token", info.CSRFToken); a.resumed || a.status != 503 || !strings.Contains(a.body, "not connected") {
		t.Errorf("step-up by card on the listener: resumed %v, %d %s, want 503 not connected", a.resumed, a.status, a.body)
	}

	// One keep-alive connection that grows old, over HTTP/1.1 and
	// HTTP/2; each retry passes only on a new connection (the clock moved
	// on), so the refusal closed the old one.
	for _, h2 := range []bool{false, true} {
		hs := listener(web.ListenerTLSConfig(), h2)
		c := client(hs, false)
		if a := call(c, hs, "GET", "/login", nil); a.status != 200 || (a.proto == "HTTP/2.0") != h2 {
			t.Fatalf("the login page: %d over %s", a.status, a.proto)
		}
		info := signIn(c, hs)
		offset.Add(int64(web.CardConnectionMaxAge + time.Minute))
		const stale = "more than 5m0s"
		if a := call(c, hs, "POST", setup, stepUp, "X-CSRF-Token", info.CSRFToken); a.status != 403 || !strings.Contains(a.body, stale) || (!a.closed && !h2) {
			t.Errorf("step-up by card on an old connection: %d %s, closed %v", a.status, a.body, a.closed)
		}
		if a := call(c, hs, "POST", setup, stepUp, "X-CSRF-Token", info.CSRFToken); a.status != 503 || !strings.Contains(a.body, "not connected") {
			t.Errorf("step-up by card on the next connection: %d %s, want 503 not connected", a.status, a.body)
		}
		offset.Add(int64(web.CardConnectionMaxAge + time.Minute))
		if a := call(c, hs, "POST", "/api/v1/session/card", nil); a.status != 401 || !strings.Contains(a.body, stale) || (!a.closed && !h2) {
			t.Errorf("card sign-in on an old connection: %d %s, closed %v", a.status, a.body, a.closed)
		}
		// The password on a connection opened before; the login waits for
		// its second step for less time than the connection ages.
		if a := call(c, hs, "GET", "/login", nil); a.status != 200 {
			t.Fatalf("the login page: %d", a.status)
		}
		offset.Add(int64(web.CardConnectionMaxAge + time.Minute))
		if a := call(c, hs, "POST", "/api/v1/session", map[string]string{"login": "sam", "password": pw}); a.status != 202 || a.closed {
			t.Fatalf("sam's password: %d %s", a.status, a.body)
		}
		if a := call(c, hs, "POST", "/api/v1/session/second-factor/card", nil); a.status != 401 || !strings.Contains(a.body, stale) || (!a.closed && !h2) {
			t.Errorf("the second step by card on an old connection: %d %s, closed %v", a.status, a.body, a.closed)
		}
		if a := call(c, hs, "POST", "/api/v1/session/second-factor/card", nil); a.status != 201 {
			t.Errorf("the second step by card on the next connection: %d %s", a.status, a.body)
		}
	}
}

// TestSignInRefusesCrossSite is the login CSRF check of the public
// sign-in routes: a request a browser marks as sent by another site
// (Sec-Fetch-Site: cross-site), or whose Origin is another host, is
// refused with 403 before anything is checked or written (no cookie, no
// session); the same requests from Lanyard's own page, or from a client
// that sends neither header (curl), go through. Card sign-in has no body,
// so a form of another site could otherwise post it with the visitor's
// card.
func TestSignInRefusesCrossSite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	srv := webtest.Start(t, st)
	hs := httptest.NewUnstartedServer(srv.Web.Handler())
	hs.TLS = web.ListenerTLSConfig()
	hs.Config.ConnContext = srv.Web.ConnContext
	hs.StartTLS()
	t.Cleanup(hs.Close)
	pw, upn, rs := "correct horse battery", "sam@example.com", lanyard.Roles{lanyard.RoleOperator}
	sam, err := srv.Service.Identity.CreateUser(ctx, lanyard.SystemPrincipal, identity.UserInput{Login: "sam", Password: &pw, UPN: &upn, Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	card := servicetest.IssueCardCert(t, st, srv.CA, sam, "smartcard-logon", "", time.Now(), nil)
	tr := hs.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{card.X509.Raw}, PrivateKey: card.Key, Leaf: card.X509}}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar}
	post := func(path, body, contentType string, header ...string) (int, string, []*http.Cookie) {
		t.Helper()
		req, _ := http.NewRequest("POST", hs.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(out), res.Cookies()
	}
	password := `{"login":"sam","password":"` + pw + `"}`
	host := strings.TrimPrefix(hs.URL, "https://")
	crossSite := [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
		{"Origin", "https://" + host + ".evil.example"},
	}
	for _, h := range crossSite {
		for _, r := range []struct{ path, body, ct string }{
			{"/api/v1/session/card", "", ""},
			{"/api/v1/session/card", "", "text/plain"},
			{"/api/v1/session", password, "application/json"},
			{"/api/v1/session", password, ""},
			{"/api/v1/session/second-factor/card", "", ""},
			{"/api/v1/session/second-factor", `{"code":"123456"}`, "application/json"},
			{"/api/v1/rss/session", `{}`, "application/json"},
		} {
			status, body, cookies := post(r.path, r.body, r.ct, h...)
			if status != 403 || !strings.Contains(body, "from another site is refused") || len(cookies) != 0 {
				t.Errorf("%s with %s: %q: %d %s, cookies %v; want 403 and no cookie", r.path, h[0], h[1], status, body, cookies)
			}
		}
	}
	evs, err := srv.Service.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "session.login"})
	if err != nil || len(evs) != 0 {
		t.Fatalf("the refused sign-ins opened sessions: %v %v", evs, err)
	}

	// Lanyard's own page (same-origin), and a client without those headers.
	if status, body, _ := post("/api/v1/session/card", "", "", "Sec-Fetch-Site", "same-origin", "Origin", hs.URL); status != 201 {
		t.Errorf("card sign-in from Lanyard's own page: %d %s", status, body)
	}
	if status, body, _ := post("/api/v1/session", password, "application/json", "Origin", hs.URL); status != 202 {
		t.Errorf("password from Lanyard's own origin: %d %s", status, body)
	}
	if status, body, _ := post("/api/v1/session/second-factor/card", "", ""); status != 201 {
		t.Errorf("the second step by card without browser headers: %d %s", status, body)
	}
}
