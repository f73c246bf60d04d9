//go:build integration

package clustertest

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// TestClusterStarts starts two replicas on one schema behind HAProxy: each
// is ready, the administrator the first one made signs in through the
// other and through HAProxy, and HAProxy's configuration names both.
func TestClusterStarts(t *testing.T) {
	c := Start(t, Build(t, t.TempDir()), Options{HAProxy: true})
	for _, r := range c.Replicas {
		var s apiv1.SessionInfo
		if err := r.Admin().Get(context.Background(), "/api/v1/session", &s); err != nil {
			t.Errorf("replica %s: the administrator's token: %v", Name(r.Index), err)
		}
	}
	req, _ := http.NewRequest("GET", c.Proxy.URL+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("through HAProxy: %v %v\n%s", resp, err, c.Proxy.Tail(20))
	}
	resp.Body.Close()
	for _, r := range c.Replicas {
		if !strings.Contains(c.Proxy.Output()+readFile(t, c.Proxy.Config), strings.TrimPrefix(r.URL, "http://")) {
			t.Errorf("HAProxy's configuration lacks replica %s", Name(r.Index))
		}
	}
	t.Log(c.Describe())
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
