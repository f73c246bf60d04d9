package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestCardRoutesExist: every route marked for forwarding is a route of
// the table (a renamed route would silently stop being forwarded).
func TestCardRoutesExist(t *testing.T) {
	s := New(Config{})
	have := map[string]bool{}
	marked := 0
	for _, rt := range s.routes {
		have[rt.method+" "+rt.path] = true
		if rt.card {
			marked++
		}
	}
	for r := range cardRoutes {
		if !have[r] {
			t.Errorf("card route %s is not in the route table", r)
		}
	}
	if marked != len(cardRoutes) {
		t.Errorf("%d routes marked as card routes, want %d", marked, len(cardRoutes))
	}
}

// TestForwardingHeadersTrustedOnlyForwarded: the public handler removes
// the forwarding headers, so a client's Lanyard-Client-Addr never counts;
// a request through ForwardedHandler is attributed to it.
func TestForwardingHeadersTrustedOnlyForwarded(t *testing.T) {
	s := New(Config{})
	var got string
	s.mux.HandleFunc("GET /test-addr", func(w http.ResponseWriter, r *http.Request) {
		got = s.clientAddr(r)
		chain, refused := s.cardConnection(r)
		if len(chain) != 0 || refused != "" {
			t.Errorf("card connection from headers: %d certificates, %q", len(chain), refused)
		}
	})
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/test-addr", nil)
		r.RemoteAddr = "192.0.2.7:4000"
		r.Header.Set(headerForwardedBy, "a")
		r.Header.Set(headerClientAddr, "203.0.113.9")
		r.Header.Set(headerChainRefused, "forged")
		return r
	}
	s.Handler().ServeHTTP(httptest.NewRecorder(), req())
	if got != "192.0.2.7" {
		t.Errorf("public listener: client address %q, want the connection's 192.0.2.7", got)
	}
	r := req()
	r.Header.Del(headerChainRefused)
	s.ForwardedHandler().ServeHTTP(httptest.NewRecorder(), r)
	if got != "203.0.113.9" {
		t.Errorf("forwarded: client address %q, want 203.0.113.9", got)
	}
	// A forwarded request must say who forwarded it.
	r = req()
	r.Header.Del(headerForwardedBy)
	w := httptest.NewRecorder()
	s.ForwardedHandler().ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest {
		t.Errorf("forwarded without %s: %d", headerForwardedBy, w.Code)
	}
}

// fakeCluster records forwards.
type fakeCluster struct {
	located  string
	forwards []string
	header   http.Header // of the forwarded request's answer
	last     *http.Request
}

func (f *fakeCluster) ID() string                                    { return "self" }
func (f *fakeCluster) Locate(context.Context, int64) (string, error) { return f.located, nil }
func (f *fakeCluster) States(context.Context, []int64) map[int64]lanyard.WorkstationState {
	return nil
}
func (f *fakeCluster) Forward(_ context.Context, id string, r *http.Request) (*http.Response, error) {
	f.forwards = append(f.forwards, id)
	f.last = r
	rec := httptest.NewRecorder()
	for k, vs := range f.header {
		rec.Header()[k] = vs
	}
	rec.WriteHeader(http.StatusCreated)
	rec.WriteString(`{"forwarded":true}`)
	return rec.Result(), nil
}

// TestForwardElsewhere: a card route whose card turns out to be at
// another replica is forwarded once; a request forwarded already answers
// 503 with Retry-After instead of a second hop.
func TestForwardElsewhere(t *testing.T) {
	fc := &fakeCluster{}
	s := New(Config{Cluster: fc})
	elsewhere := &lanyard.ElsewhereError{WorkstationID: 3, Replica: "b"}
	r := httptest.NewRequest("POST", "/api/v1/cards/1/pin-change", strings.NewReader(`{}`))
	w := httptest.NewRecorder()
	c := &call{w: w, r: r, s: s}
	if !s.forwardElsewhere(c, []byte(`{}`), elsewhere) || w.Code != http.StatusCreated || len(fc.forwards) != 1 || fc.forwards[0] != "b" {
		t.Errorf("first hop: status %d, forwards %v", w.Code, fc.forwards)
	}
	r = httptest.NewRequest("POST", "/api/v1/cards/1/pin-change", strings.NewReader(`{}`))
	r = r.WithContext(context.WithValue(r.Context(), forwardedKey{}, true))
	w = httptest.NewRecorder()
	c = &call{w: w, r: r, s: s}
	if !s.forwardElsewhere(c, nil, elsewhere) || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || len(fc.forwards) != 1 {
		t.Errorf("second hop: status %d, Retry-After %q, forwards %v", w.Code, w.Header().Get("Retry-After"), fc.forwards)
	}
	// Other errors are the route's own.
	if s.forwardElsewhere(&call{w: httptest.NewRecorder(), r: r, s: s}, nil, lanyard.Errorf(lanyard.EUnavailable, "offline")) {
		t.Error("an ordinary error was forwarded")
	}
}

// TestForwardClosesForFreshHandshake: when the replica that ran a
// forwarded request asks for its connection to close (a refused card
// step-up: the retry must make a new TLS handshake), this replica closes
// its client's connection, whether the peer link said so in
// Lanyard-Fresh-Handshake (HTTP/2) or in Connection (HTTP/1.1).
func TestForwardClosesForFreshHandshake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		close  bool
	}{
		{"http2", http.Header{"Lanyard-Fresh-Handshake": {"1"}}, true},
		{"http1", http.Header{"Connection": {"keep-alive, Close"}}, true},
		{"plain", http.Header{"Connection": {"keep-alive"}}, false},
	} {
		fc := &fakeCluster{header: tc.header}
		s := New(Config{Cluster: fc})
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/cards/1/pin-change", strings.NewReader(`{}`))
		s.forward(&call{w: w, r: r, s: s}, "b", []byte(`{}`), "elsewhere")
		if got := connectionClose(w.Header()); got != tc.close {
			t.Errorf("%s: the client's answer closes the connection: %v, want %v (%v)", tc.name, got, tc.close, w.Header())
		}
		if w.Header().Get(headerFreshHandshake) != "" {
			t.Errorf("%s: %s reached the client", tc.name, headerFreshHandshake)
		}
	}
}

// TestForwardedClientAddr: a forwarded request's client address is the
// forwarding replica's Lanyard-Client-Addr alone: one that is no IP
// address is refused, never replaced by the X-Forwarded-For the client
// sent along. The forwarding replica sends an IPv6 address without its
// zone.
func TestForwardedClientAddr(t *testing.T) {
	nets, err := ParseTrustedProxies("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{TrustedProxies: nets})
	ran := false
	s.mux.HandleFunc("GET /test-addr", func(w http.ResponseWriter, r *http.Request) { ran = true })
	r := httptest.NewRequest("GET", "/test-addr", nil)
	r.RemoteAddr = "127.0.0.1:4000" // a trusted proxy's address: the peer replica on one host
	r.Header.Set(headerForwardedBy, "a")
	r.Header.Set(headerClientAddr, "fe80::1%eth0")
	r.Header.Set("X-Forwarded-For", "198.51.100.66")
	w := httptest.NewRecorder()
	s.ForwardedHandler().ServeHTTP(w, r)
	if ran || w.Code != http.StatusBadRequest {
		t.Errorf("forwarded with an unparsable client address: ran %v, status %d; want 400", ran, w.Code)
	}

	fc := &fakeCluster{}
	s = New(Config{Cluster: fc})
	r = httptest.NewRequest("POST", "/api/v1/cards/1/pin-change", strings.NewReader(`{}`))
	r.RemoteAddr = "[fe80::1%eth0]:4000"
	s.forward(&call{w: httptest.NewRecorder(), r: r, s: s}, "b", []byte(`{}`), "elsewhere")
	if fc.last == nil || fc.last.Header.Get(headerClientAddr) != "fe80::1" {
		t.Errorf("forwarded client address %q, want fe80::1", fc.last.Header.Get(headerClientAddr))
	}
}

// TestCardBodyWorkstation reads the workstation a card request names.
func TestCardBodyWorkstation(t *testing.T) {
	for _, tc := range []struct {
		body, query string
		want        int64
	}{
		{`{"workstation_id": 42, "reader": "r"}`, "", 42},
		{`{"reader": "r"}`, "workstation_id=7", 7},
		{`not json`, "", 0},
		{`{"workstation_id": -5}`, "", 0},
		{`{"workstation_id": "12"}`, "", 0},
		{`{"workstation_id": 12, "aircard": true}`, "", 0},
		{`{"aircard": true}`, "workstation_id=12", 0},
		{``, "", 0},
	} {
		r := httptest.NewRequest("POST", "/api/v1/issue?"+tc.query, strings.NewReader(tc.body))
		body, id, err := cardBody(r)
		if err != nil || id != tc.want || string(body) != tc.body {
			t.Errorf("cardBody(%q, %q) = %q, %d, %v; want %d", tc.body, tc.query, body, id, err, tc.want)
		}
	}
}

// FuzzCardBody: any body is read back whole and yields a workstation ID
// that is never negative.
func FuzzCardBody(f *testing.F) {
	f.Add([]byte(`{"workstation_id": 42}`))
	f.Add([]byte(`{"workstation_id": 1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := httptest.NewRequest("POST", "/api/v1/issue", strings.NewReader(string(b)))
		body, id, err := cardBody(r)
		if err == nil && (string(body) != string(b) || id < 0) {
			t.Errorf("cardBody(%q) = %q, %d", b, body, id)
		}
	})
}

// FuzzForwardedChain: any header value parses without panic, into
// certificates or a refusal.
func FuzzForwardedChain(f *testing.F) {
	f.Add("MIIB", "")
	f.Add("", "too old")
	f.Add("AAAA,,BBBB", "")
	f.Fuzz(func(t *testing.T, chain, refused string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(headerClientChain, chain)
		r.Header.Set(headerChainRefused, refused)
		forwardedChain(r)
	})
}
