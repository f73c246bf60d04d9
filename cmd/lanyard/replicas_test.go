package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// checkReplicasCLI runs lanyard replicas against a single server (TestDemo's)
// holding one workstation and one AirCard service: the table and
// --json (--output json alike) show it alone, live, answering, with both
// agents and the lease rows of the jobs that ran; a plain user is refused.
func checkReplicasCLI(t *testing.T, admin, user *cli) {
	t.Helper()
	var v apiv1.ClusterView
	for _, flag := range []string{"--json", "--output=json"} {
		if err := json.Unmarshal([]byte(admin.must(0, "replicas", flag)), &v); err != nil {
			t.Fatalf("lanyard replicas %s: %v", flag, err)
		}
		if v.Cluster || len(v.Replicas) != 1 || v.Replica == "" {
			t.Fatalf("lanyard replicas %s: %+v", flag, v)
		}
		r := v.Replicas[0]
		if r.ID != v.Replica || !r.Live || !r.Self || r.Workstations != 1 || r.AirCardServices != 1 || !strings.HasPrefix(r.AgentURL, "https://") {
			t.Errorf("lanyard replicas %s: the server is %+v", flag, r)
		}
		var names []string
		for _, j := range v.Jobs {
			names = append(names, j.Name)
		}
		if !strings.Contains(strings.Join(names, " "), "first_start") {
			t.Errorf("lanyard replicas %s: jobs %v lack first_start", flag, names)
		}
	}
	out := admin.must(0, "replicas")
	for _, want := range []string{"A single server", v.Replica + " (this)", "live", "WORKSTATIONS", "first_start"} {
		if !strings.Contains(out, want) {
			t.Errorf("lanyard replicas lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := user.run("", "replicas"); code != 1 || !strings.Contains(errOut, "roles") {
		t.Errorf("lanyard replicas as a plain user: exit %d %s", code, errOut)
	}
}

// TestPrintCluster: the table names this replica, tells gone from live,
// and maps each job to the replica running it.
func TestPrintCluster(t *testing.T) {
	now := time.Date(2026, 12, 8, 1, 0, 10, 0, time.UTC)
	until, last := now.Add(time.Minute), now.Add(-time.Hour)
	v := &apiv1.ClusterView{Cluster: true, Replica: "aa", Replicas: []apiv1.ReplicaView{
		{ID: "aa", PeerURL: "https://10.0.0.1:8444", StartedAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-time.Second), Live: true, Self: true, Workstations: 3},
		{ID: "bb", PeerURL: "https://10.0.0.2:8444", StartedAt: now.Add(-time.Hour), HeartbeatAt: now.Add(-30 * time.Second), AirCardServices: 1},
	}, Jobs: []apiv1.JobView{
		{Name: "crl_refresh", Holder: "h/1/aa#x", Replica: "aa", Running: true, LeaseUntil: &until, LastRun: &last},
		{Name: "card_monitor", Holder: "old/7/cc#y"},
	}}
	var b strings.Builder
	if err := printCluster(&b, v, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for i, want := range [][]string{
		{"REPLICA", "AIRCARD SERVICES"},
		{"aa (this)", "live", "https://10.0.0.1:8444", "1s ago", " 3 "},
		{"bb", "gone", "30s ago"},
		{},
		{"JOB", "LAST RUN"},
		{"crl_refresh", " aa ", "running, until"},
		{"card_monitor", " - ", "old/7/cc#y", "never"},
	} {
		for _, w := range want {
			if i >= len(lines) || !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q:\n%s", i, w, b.String())
			}
		}
	}
	if strings.Contains(b.String(), "single server") {
		t.Errorf("a cluster is called a single server:\n%s", b.String())
	}
}
