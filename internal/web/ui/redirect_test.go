package ui_test

import (
	"net/url"
	"testing"
)

// nextCases are login redirect targets (as the next query parameter reads
// once decoded) and where a signed-in visitor of /login?next=… is sent.
// Browsers drop tabs and newlines and read "\" as "/", so every bad case
// but the schemes would otherwise end on another host.
var nextCases = []struct{ next, want string }{
	{"/workstations", "/workstations"},
	{"/console/users?q=ann", "/console/users?q=ann"},
	{"/card/7#documents", "/card/7#documents"},
	{"/%09/evil.example", "/%09/evil.example"}, // stays an (odd) path on this site
	{"/\t/evil.example", "/"},
	{"/\n/evil.example", "/"},
	{"/\r\n/evil.example", "/"},
	{" //evil.example", "/"},
	{"/ /evil.example", "/"},
	{"/\u00a0/evil.example", "/"},
	{"/\x7f/evil.example", "/"},
	{"//evil.example/", "/"},
	{"/\\evil.example", "/"},
	{"/\\/evil.example", "/"},
	{"\\\\evil.example", "/"},
	{"/x\\..\\\\evil.example", "/"},
	{"https://evil.example/", "/"},
	{"https:/evil.example", "/"},
	{"javascript:alert(1)", "/"},
	{"\tjavascript:alert(1)", "/"},
	{"evil.example", "/"},
	{"", "/"},
}

// Issue 13 item 11: a signed-in visitor of /login?next=… is sent on only
// to a path on this site.
func TestLoginRedirectStaysOnSite(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", "correct horse battery")
	ck := s.cookie("ann", "correct horse battery")
	for _, tc := range nextCases {
		p := s.get("/login?next="+url.QueryEscape(tc.next), ck)
		if p.status != 303 || p.header.Get("Location") != tc.want {
			t.Errorf("next=%q: %d → %q, want %q", tc.next, p.status, p.header.Get("Location"), tc.want)
		}
	}
}
