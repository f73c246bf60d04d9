//go:build integration

package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestReplicasView: GET /api/v1/replicas through either replica lists
// both, live, the answering one marked, the agent connected to A counted
// at A, a replica that stopped heartbeating as gone, and the job B's
// process holds named by B.
func TestReplicasView(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	ws, _ := runAgent(t, p.a, p.adminToken, "alice", agent.NewMemReaders("Reader 0"))
	now := time.Now()
	err := p.a.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.PutReplica(&lanyard.Replica{ID: "0dead", PeerURL: "https://127.0.0.1:1", StartedAt: now.Add(-time.Hour),
			HeartbeatAt: now.Add(-time.Minute), ExpiresAt: now.Add(-time.Minute + 5*time.Second)}); err != nil {
			return err
		}
		_, err := tx.ClaimJob("crl_refresh", jobs.ReplicaHolder(p.b.Cluster.ID())+"#01", now, now.Add(time.Minute))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, via := range []struct {
		name string
		url  string
		self string
	}{{"A", p.a.URL, p.a.Cluster.ID()}, {"B", p.b.URL, p.b.Cluster.ID()}} {
		var v apiv1.ClusterView
		if err := clientOf(t, via.url, p.adminToken).Get(ctx, "/api/v1/replicas", &v); err != nil {
			t.Fatalf("GET /api/v1/replicas through %s: %v", via.name, err)
		}
		if !v.Cluster || v.Replica != via.self || len(v.Replicas) != 3 {
			t.Fatalf("through %s: %+v", via.name, v)
		}
		byID := map[string]apiv1.ReplicaView{}
		for _, r := range v.Replicas {
			byID[r.ID] = r
		}
		a, b, gone := byID[p.a.Cluster.ID()], byID[p.b.Cluster.ID()], byID["0dead"]
		if !a.Live || a.Workstations != 1 || a.AirCardServices != 0 || a.PeerURL != p.a.PeerURL || a.AgentURL != p.a.AgentURL || a.Self != (via.name == "A") {
			t.Errorf("through %s, A (holding workstation %d): %+v", via.name, ws, a)
		}
		if !b.Live || b.Workstations != 0 || b.PeerURL != p.b.PeerURL || b.Self != (via.name == "B") {
			t.Errorf("through %s, B: %+v", via.name, b)
		}
		if gone.ID == "" || gone.Live || gone.Self {
			t.Errorf("through %s, the silent replica: %+v", via.name, gone)
		}
		var crl *apiv1.JobView
		for i := range v.Jobs {
			if v.Jobs[i].Name == "crl_refresh" {
				crl = &v.Jobs[i]
			}
		}
		if crl == nil || crl.Replica != p.b.Cluster.ID() || !crl.Running || crl.LeaseUntil == nil || crl.LastRun != nil {
			t.Errorf("through %s, the CRL refresh's lease: %+v", via.name, crl)
		}
	}
	// A user may not look.
	var v apiv1.ClusterView
	if err := clientOf(t, p.b.URL, p.aliceToken).Get(ctx, "/api/v1/replicas", &v); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("alice's GET /api/v1/replicas: %v, want forbidden", err)
	}
}
