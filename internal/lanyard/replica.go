package lanyard

import (
	"fmt"
	"time"
)

// Replica is one `lanyard serve` process of a cluster on PostgreSQL, as
// it registered itself (docs/architecture.md, "Cluster"): a random ID
// per process start, the URL its peer listener is reached at, the agent
// listener's address as agents see it, and the serials (lower-case hex)
// of the client and server certificates the built-in machine CA issued
// it (template "replica"). It counts as gone once ExpiresAt has passed:
// a replica renews it every heartbeat.
type Replica struct {
	ID           string
	PeerURL      string
	AgentURL     string
	ClientSerial string
	ServerSerial string
	StartedAt    time.Time
	HeartbeatAt  time.Time
	ExpiresAt    time.Time
}

// AgentRoute says which replica holds a workstation's (or an AirCard
// service's) agent connection. Epoch grows across the cluster with every
// connection, so a stale connection never replaces or removes a newer
// one's route.
type AgentRoute struct {
	WorkstationID int64
	ReplicaID     string
	Epoch         int64
	ConnectedAt   time.Time
	// PeerURL is the holding replica's (filled by the reads, which join
	// the replica directory).
	PeerURL string
}

// AgentRouteFilter selects live routes: of these workstations (none:
// any), of those owned by OwnerID (0: anyone's), of agents with Role
// (empty: any).
type AgentRouteFilter struct {
	IDs     []int64
	OwnerID int64
	Role    WorkstationRole
}

// ReplicaStore holds the replica directory and the agent routes.
type ReplicaStore interface {
	// PutReplica registers r, or updates the row with its ID.
	PutReplica(r *Replica) error
	// HeartbeatReplica renews replica id's heartbeat; ENotFound when its
	// row is gone (purged after it expired), so it registers again.
	HeartbeatReplica(id string, at, expires time.Time) error
	// DeleteReplica removes replica id and the agent routes it holds
	// (a clean shutdown).
	DeleteReplica(id string) error
	// LiveReplicas lists the replicas whose ExpiresAt is after now, by ID.
	LiveReplicas(now time.Time) ([]*Replica, error)
	// ReplicaByClientSerial returns the live replica whose client
	// certificate has serial; ENotFound for any other serial (a
	// workstation's, a person's, an expired replica's).
	ReplicaByClientSerial(serial string, now time.Time) (*Replica, error)
	// PurgeReplicas deletes the replicas that expired before before,
	// with their routes, and counts them.
	PurgeReplicas(before time.Time) (int, error)
	// PutAgentRoute records rt (WorkstationID, ReplicaID, ConnectedAt).
	// With Epoch 0 it draws a new epoch, greater than every one drawn
	// before in the cluster, and sets it. The row is written only if no
	// route with a greater or equal epoch exists; written says whether.
	PutAgentRoute(rt *AgentRoute) (written bool, err error)
	// DeleteAgentRoute deletes workstationID's route if replicaID still
	// holds it with epoch; deleted says whether.
	DeleteAgentRoute(workstationID int64, replicaID string, epoch int64) (deleted bool, err error)
	// LiveAgentRoutes lists the routes f selects whose replica is live at
	// now, by workstation ID; a route of an expired replica reads as none
	// (the workstation is offline).
	LiveAgentRoutes(f AgentRouteFilter, now time.Time) ([]*AgentRoute, error)
	// ListReplicas lists every registered replica, live or expired (not
	// yet purged), oldest start first: the operators' view of the
	// cluster (GET /api/v1/replicas).
	ListReplicas() ([]*Replica, error)
	// AgentRouteCounts counts the agent routes each replica holds, by
	// the agents' role (workstation, AirCard service), in one statement;
	// a replica that holds none is absent. Routes are counted whether
	// their replica is live or not.
	AgentRouteCounts() (map[string]map[WorkstationRole]int, error)
}

// ReplicaStatus is a replica as operators see it: its registration, whether
// it still counts as live, whether it is the replica answering, and how
// many agent connections it holds.
type ReplicaStatus struct {
	Replica
	Live bool
	Self bool
	// Workstations and AirCardServices count the agent connections the
	// replica holds (its agent routes; a single server: its hub's).
	Workstations    int
	AirCardServices int
}

// ClusterStatus is the operators' view of the cluster: every registered
// replica and the cluster-wide jobs' lease rows. A single server (SQLite)
// is a cluster of one.
type ClusterStatus struct {
	// Cluster says the replicas share a PostgreSQL database; false: a
	// single server, which is the one replica listed.
	Cluster  bool
	Self     string // the ID of the replica answering
	Replicas []ReplicaStatus
	Jobs     []*JobRun
	// JobReplicas maps a job's name to the ID of the registered replica
	// whose process holds its lease row (running it, or the last to have
	// run it), when its holder names one.
	JobReplicas map[string]string
}

// ElsewhereError says that a workstation's agent is connected to another
// replica of the cluster: its card is reached there (APDUs never cross
// replicas), so the web layer forwards the whole request to Replica.
// It carries the code EUnavailable.
type ElsewhereError struct {
	WorkstationID int64
	Replica       string
}

func (e *ElsewhereError) Error() string {
	return fmt.Sprintf("%s: workstation %d is connected to replica %s", EUnavailable, e.WorkstationID, e.Replica)
}

// Unwrap gives the error its code and user-safe message.
func (e *ElsewhereError) Unwrap() error {
	return &Error{Code: EUnavailable, Message: fmt.Sprintf("workstation %d is connected to another server of the cluster; try again", e.WorkstationID)}
}
