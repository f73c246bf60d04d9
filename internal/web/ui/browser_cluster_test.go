//go:build integration

package ui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserConsoleCluster: an operator opens Cluster from the console's
// navigation and sees what GET /api/v1/replicas says: this server alone
// (SQLite: a single server), live, and the cluster-wide job it runs,
// named by its replica.
func TestBrowserConsoleCluster(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olga", password, "operator")
	var v apiv1.ClusterView
	if code, body := s.api("GET", "/api/v1/replicas", nil); code != 200 || json.Unmarshal(body, &v) != nil || len(v.Replicas) != 1 {
		t.Fatalf("GET /api/v1/replicas: %d %s", code, body)
	}
	now := time.Now()
	err := s.srv.Store.Update(context.Background(), func(tx lanyard.Tx) error {
		_, err := tx.ClaimJob("crl_refresh", "host/1/"+v.Replica+"#ab", now, now.Add(time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := mustBrowser(t, s)
	b.Login("olga", password)
	b.Visit("/console/")
	b.Run("open Cluster", chromedp.Click(chromedp.CSS(`nav a[href="/console/cluster"]`)))
	b.WaitFor("the cluster", `document.querySelector('#cluster-status').textContent.includes('A single server')`)
	b.CheckAccessible("the cluster page")
	b.Shot("console-cluster")
	replicas, jobs := b.Text("#cluster-replicas"), b.Text("#cluster-jobs")
	if !strings.Contains(replicas, v.Replica) || !strings.Contains(replicas, "(this server)") || !strings.Contains(replicas, "Live") || !strings.Contains(replicas, "0 workstations") {
		t.Errorf("replicas: %q", replicas)
	}
	if !strings.Contains(jobs, "crl_refresh") || !strings.Contains(jobs, v.Replica) || !strings.Contains(jobs, "Running until") {
		t.Errorf("jobs: %q", jobs)
	}
}
