package agenthub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/problem"
)

// Pairing needs no credentials, so one address may only ask so often;
// beyond PairLimits it gets 429 with Retry-After, whatever it sends, while
// another address is unaffected.
func TestPairRequestsAreRateLimited(t *testing.T) {
	h := New(Config{}).Handler()
	send := func(addr string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", agentproto.PathPair, strings.NewReader(`{"not":"a pairing request"}`))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for i := range PairLimits.MaxFailures {
		if rec := send("192.0.2.7:4000"); rec.Code != http.StatusBadRequest {
			t.Fatalf("request %d: status %d, want 400 (malformed, but not yet limited)", i+1, rec.Code)
		}
	}
	rec := send("192.0.2.7:4001")
	var p problem.Details
	if err := json.NewDecoder(rec.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusTooManyRequests || p.Code != lanyard.ERateLimited || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("request beyond the limit: %d %+v %q", rec.Code, p, rec.Header().Get("Retry-After"))
	}
	if rec := send("198.51.100.9:4000"); rec.Code != http.StatusBadRequest {
		t.Fatalf("another address: status %d, want 400", rec.Code)
	}
}

// The pairing limit holds for an IPv6 client's whole /64: fresh
// addresses of one prefix get no fresh counters (auth.ClientNet), while
// another /64 is unaffected.
func TestPairRequestsAreRateLimitedPerIPv6Prefix(t *testing.T) {
	h := New(Config{}).Handler()
	send := func(addr string) int {
		req := httptest.NewRequest("POST", agentproto.PathPair, strings.NewReader(`{"not":"a pairing request"}`))
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range PairLimits.MaxFailures {
		if code := send(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1)); code != http.StatusBadRequest {
			t.Fatalf("request %d: status %d, want 400", i+1, code)
		}
	}
	if code := send("[2001:db8:1:2:ffff::1]:4000"); code != http.StatusTooManyRequests {
		t.Fatalf("another address of the same /64: status %d, want 429", code)
	}
	if code := send("[2001:db8:1:3::1]:4000"); code != http.StatusBadRequest {
		t.Fatalf("another /64: status %d, want 400", code)
	}
}
