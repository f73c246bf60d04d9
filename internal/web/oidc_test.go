package web_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// TestOIDCEdge: the provider API never returns the secret; the login
// page's list offers only providers enabled for something; a sign-in at
// an unknown provider and an answer Lanyard did not ask for end on a page
// that says so, with no session. (The flows against a real provider are
// in internal/service/sso and internal/web/ui, integration tests.)
func TestOIDCEdge(t *testing.T) {
	e := mustEnv(t)
	in := map[string]any{"name": "corp", "display_name": "Corp", "issuer": "https://idp.example.test", "client_id": "lanyard", "client_secret": "the client secret"}
	r := e.must(201, "POST", "/api/v1/oidc-providers", e.admin, in)
	if strings.Contains(string(r.body), "the client secret") {
		t.Fatalf("the secret comes back: %s", r.body)
	}
	var p apiv1.OIDCProvider
	r.json(&p)
	if !p.ClientSecretSet || p.CallbackURL != e.url+"/login/oidc/corp/callback" {
		t.Fatalf("provider = %+v", p)
	}
	var buttons []apiv1.LoginProvider
	e.must(200, "GET", "/api/v1/session/providers", "", nil).json(&buttons)
	if len(buttons) != 0 {
		t.Fatalf("buttons for a provider enabled for nothing: %+v", buttons)
	}
	e.must(200, "PATCH", "/api/v1/oidc-providers/corp", e.admin, map[string]any{"console": true})
	e.must(200, "GET", "/api/v1/session/providers", "", nil).json(&buttons)
	if len(buttons) != 1 || buttons[0].DisplayName != "Corp" || !buttons[0].Console || buttons[0].SelfService {
		t.Fatalf("buttons = %+v", buttons)
	}
	e.must(400, "POST", "/api/v1/oidc-providers", e.admin, map[string]any{"name": "x", "display_name": "X", "issuer": "ftp://idp", "client_id": "c"})

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/login/oidc/nope?next=/", 404, "no single sign-on provider"},
		{"/login/oidc/corp/callback?state=forged&code=c", 401, "unknown, was used already or has expired"},
		{"/login/oidc/corp/callback?error=access_denied", 401, "no state"},
	} {
		res, err := client.Get(e.url + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.status || !strings.Contains(string(body), "Sign-in failed") || !strings.Contains(string(body), tc.says) {
			t.Errorf("GET %s: %d %s; want %d saying %q", tc.path, res.StatusCode, body, tc.status, tc.says)
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("GET %s: no CSP or referrer policy: %v", tc.path, res.Header)
		}
		for _, c := range res.Cookies() {
			if strings.Contains(c.Name, "session") && c.Value != "" {
				t.Errorf("GET %s set a session cookie", tc.path)
			}
		}
	}
}
