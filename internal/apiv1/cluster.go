package apiv1

import "time"

// ClusterView is the cluster as operators see it (GET /api/v1/replicas):
// the replicas registered in the database and the cluster-wide jobs'
// lease rows (docs/architecture.md, "Cluster" and "Cluster-wide jobs").
// A single server (SQLite) is a cluster of one.
type ClusterView struct {
	// Cluster says the replicas share a PostgreSQL database; false: a
	// single server, the one replica listed.
	Cluster bool `json:"cluster"`
	// Replica is the ID of the replica that answered.
	Replica  string        `json:"replica"`
	Replicas []ReplicaView `json:"replicas"`
	Jobs     []JobView     `json:"jobs"`
}

// ReplicaView is one replica: a `lanyard serve` process, registered under
// a random ID at its start. A replica that missed five heartbeats is gone
// (live false); its row is purged an hour after.
type ReplicaView struct {
	ID string `json:"id"`
	// PeerURL is its peer listener (other replicas forward card requests
	// there); empty on a single server.
	PeerURL string `json:"peer_url,omitempty"`
	// AgentURL is the agent listener's address as agents see it.
	AgentURL    string    `json:"agent_url,omitempty"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	Live        bool      `json:"live"`
	// Self marks the replica that answered this request.
	Self bool `json:"self"`
	// Workstations and AirCardServices count the agent connections it
	// holds.
	Workstations    int `json:"workstations"`
	AirCardServices int `json:"aircard_services"`
}

// JobView is a cluster-wide job's lease row: which process holds it (the
// one running it, or the last to have run it) and until when.
type JobView struct {
	Name   string `json:"name"`
	Holder string `json:"holder,omitempty"`
	// Replica is the ID of the listed replica whose process is Holder.
	Replica string `json:"replica,omitempty"`
	// Running says a lease runs past now; LeaseUntil is its end.
	Running    bool       `json:"running"`
	LeaseUntil *time.Time `json:"lease_until,omitempty"`
	// LastRun is when the last run completed (absent: never).
	LastRun *time.Time `json:"last_run,omitempty"`
}
