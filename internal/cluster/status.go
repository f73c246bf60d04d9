package cluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The operators' view of the cluster (GET /api/v1/replicas, `lanyard
// replicas`, the console's Cluster page; docs/architecture.md, "Cluster"):
// every registered replica with the agent connections it holds, and the
// cluster-wide jobs' lease rows with the replica whose process holds
// each. It reads three tables in one transaction, one statement each,
// whatever the number of replicas and agents.

// Status reads the cluster: the replicas registered, live or expired but
// not yet purged (an hour), the agents each holds (its routes), and the
// jobs' leases. This replica is marked Self.
func (c *Cluster) Status(ctx context.Context) (*lanyard.ClusterStatus, error) {
	now := c.now()
	out := &lanyard.ClusterStatus{Cluster: true, Self: c.id}
	var counts map[string]map[lanyard.WorkstationRole]int
	err := c.st.View(ctx, func(tx lanyard.Tx) error {
		rs, err := tx.ListReplicas()
		if err != nil {
			return err
		}
		if counts, err = tx.AgentRouteCounts(); err != nil {
			return err
		}
		out.Jobs, err = tx.ListJobRuns()
		for _, r := range rs {
			n := counts[r.ID]
			out.Replicas = append(out.Replicas, lanyard.ReplicaStatus{Replica: *r, Live: r.ExpiresAt.After(now), Self: r.ID == c.id,
				Workstations: n[lanyard.RoleWorkstation], AirCardServices: n[lanyard.RoleAirCardService]})
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out.JobReplicas = jobReplicas(out.Jobs, out.Replicas)
	return out, nil
}

// Single is the status of a server that is no cluster (SQLite, or
// PostgreSQL with --peer-listen off): one replica, itself, holding the
// agents its hub holds. Its jobs still have lease rows.
type Single struct {
	Store lanyard.Store
	// ID names this process (the jobs' holder names carry it:
	// jobs.ReplicaHolder); StartedAt is when it started.
	ID        string
	StartedAt time.Time
	// agentURL is the agent listener's address once it listens
	// (SetAgentURL).
	agentURL atomic.Pointer[string]
	// Agents counts the agent connections of the hub (nil: none).
	Agents func() (workstations, airCardServices int)
	Now    func() time.Time
}

// SetAgentURL records the agent listener's address once it listens.
func (s *Single) SetAgentURL(url string) { s.agentURL.Store(&url) }

// Status is the single server's view: itself, live, and the jobs.
func (s *Single) Status(ctx context.Context) (*lanyard.ClusterStatus, error) {
	if s.Store == nil || s.Now == nil {
		return nil, errors.New("cluster: Single needs Store and Now")
	}
	now := s.Now()
	var agentURL string
	if p := s.agentURL.Load(); p != nil {
		agentURL = *p
	}
	self := lanyard.ReplicaStatus{Replica: lanyard.Replica{ID: s.ID, AgentURL: agentURL, StartedAt: s.StartedAt, HeartbeatAt: now, ExpiresAt: now},
		Live: true, Self: true}
	if s.Agents != nil {
		self.Workstations, self.AirCardServices = s.Agents()
	}
	out := &lanyard.ClusterStatus{Self: s.ID, Replicas: []lanyard.ReplicaStatus{self}}
	if err := s.Store.View(ctx, func(tx lanyard.Tx) (err error) { out.Jobs, err = tx.ListJobRuns(); return }); err != nil {
		return nil, err
	}
	out.JobReplicas = jobReplicas(out.Jobs, out.Replicas)
	return out, nil
}

// HolderReplica returns the replica ID a job lease's holder name carries
// (jobs.ReplicaHolder: "host/pid/ID", each claim adding "#suffix"), or "".
func HolderReplica(holder string) string {
	name, _, _ := strings.Cut(holder, "#")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// jobReplicas maps each job to the listed replica its holder names.
func jobReplicas(jobs []*lanyard.JobRun, rs []lanyard.ReplicaStatus) map[string]string {
	ids := map[string]bool{}
	for _, r := range rs {
		ids[r.ID] = true
	}
	out := map[string]string{}
	for _, j := range jobs {
		if id := HolderReplica(j.Holder); id != "" && ids[id] {
			out[j.Name] = id
		}
	}
	return out
}
