package web

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ClusterStatus is the operators' view of the cluster
// (internal/cluster: Cluster.Status on a replica, Single.Status on a
// single server).
type ClusterStatus interface {
	Status(ctx context.Context) (*lanyard.ClusterStatus, error)
}

// replicaRoutes serve the view of the cluster: which replicas run, which
// hold how many agents, and which runs each cluster-wide job.
//
// Readers (operators, administrators, auditors, CA managers, document
// officers) may see it: it tells an operator why a workstation is
// unreachable (its replica is gone), a CA manager which replica refreshes
// the CRLs, an auditor who checkpoints the audit chain. It holds no
// secret: the peer URLs lead to a listener that accepts only replicas'
// client certificates, and agents know the agent URL already. Plain
// users, who see only their own workstations, do not need it.
func (s *Server) replicaRoutes() []*route {
	return []*route{
		{method: "GET", path: "/api/v1/replicas", summary: "The cluster: replicas (live or gone, agents held) and the cluster-wide jobs' leases", tag: "operations",
			roles: readers, out: &apiv1.ClusterView{}, status: 200, h: s.listReplicas},
	}
}

func (s *Server) listReplicas(c *call) (any, error) {
	if s.replicas == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "this server does not report its cluster")
	}
	st, err := s.replicas.Status(c.r.Context())
	if err != nil {
		return nil, err
	}
	return clusterView(st, s.now()), nil
}

// clusterView converts the status to its wire form.
func clusterView(st *lanyard.ClusterStatus, now time.Time) *apiv1.ClusterView {
	out := &apiv1.ClusterView{Cluster: st.Cluster, Replica: st.Self, Replicas: []apiv1.ReplicaView{}, Jobs: []apiv1.JobView{}}
	for _, r := range st.Replicas {
		out.Replicas = append(out.Replicas, apiv1.ReplicaView{ID: r.ID, PeerURL: r.PeerURL, AgentURL: r.AgentURL,
			StartedAt: r.StartedAt, HeartbeatAt: r.HeartbeatAt, ExpiresAt: r.ExpiresAt, Live: r.Live, Self: r.Self,
			Workstations: r.Workstations, AirCardServices: r.AirCardServices})
	}
	for _, j := range st.Jobs {
		v := apiv1.JobView{Name: j.Name, Holder: j.Holder, Replica: st.JobReplicas[j.Name], Running: j.LeaseUntil.After(now),
			LeaseUntil: timePtr(j.LeaseUntil), LastRun: timePtr(j.RunAt)}
		out.Jobs = append(out.Jobs, v)
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
