package sqlstore

import (
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The cluster's replica directory and agent routes
// (lanyard.ReplicaStore; migration 0038).

const replicaCols = `id, peer_url, agent_url, client_serial, server_serial, started_at, heartbeat_at, expires_at`

var (
	qPutReplica = prepared(`INSERT INTO replicas (` + replicaCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET peer_url = excluded.peer_url, agent_url = excluded.agent_url, client_serial = excluded.client_serial,
		server_serial = excluded.server_serial, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at`)
	qHeartbeatReplica    = prepared(`UPDATE replicas SET heartbeat_at = ?, expires_at = ? WHERE id = ?`)
	qDeleteReplicaRoutes = prepared(`DELETE FROM agent_routes WHERE replica_id = ?`)
	qDeleteReplica       = prepared(`DELETE FROM replicas WHERE id = ?`)
	qLiveReplicas        = prepared(`SELECT ` + replicaCols + ` FROM replicas WHERE expires_at > ? ORDER BY id`)
	qReplicaByClientCert = prepared(`SELECT ` + replicaCols + ` FROM replicas WHERE client_serial = ? AND client_serial <> '' AND expires_at > ?`)
	qPurgeReplicaRoutes  = prepared(`DELETE FROM agent_routes WHERE replica_id IN (SELECT id FROM replicas WHERE expires_at < ?)`)
	qPurgeReplicas       = prepared(`DELETE FROM replicas WHERE expires_at < ?`)
	qPutAgentRoute       = prepared(`INSERT INTO agent_routes (workstation_id, replica_id, epoch, connected_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (workstation_id) DO UPDATE SET replica_id = excluded.replica_id, epoch = excluded.epoch, connected_at = excluded.connected_at
		WHERE agent_routes.epoch < excluded.epoch`)
	qListReplicas     = prepared(`SELECT ` + replicaCols + ` FROM replicas ORDER BY started_at, id`)
	qAgentRouteCounts = prepared(`SELECT r.replica_id, w.role, COUNT(*) FROM agent_routes r
		JOIN workstations w ON w.id = r.workstation_id GROUP BY r.replica_id, w.role`)
	qDeleteAgentRoute = prepared(`DELETE FROM agent_routes WHERE workstation_id = ? AND replica_id = ? AND epoch = ?`)
)

func (t replicasTx) PutReplica(r *lanyard.Replica) error {
	r.StartedAt, r.HeartbeatAt, r.ExpiresAt = normTime(r.StartedAt), normTime(r.HeartbeatAt), normTime(r.ExpiresAt)
	if r.ID == "" || r.PeerURL == "" {
		return t.fail(lanyard.Errorf(lanyard.EInvalid, "a replica needs an ID and a peer URL"))
	}
	_, err := t.exec(qPutReplica, r.ID, r.PeerURL, r.AgentURL, r.ClientSerial, r.ServerSerial, micros(r.StartedAt), micros(r.HeartbeatAt), micros(r.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "", "")
	}
	return nil
}

func (t replicasTx) HeartbeatReplica(id string, at, expires time.Time) error {
	res, err := t.exec(qHeartbeatReplica, micros(normTime(at)), micros(normTime(expires)), id)
	return t.one(res, err, notFound("replica %s is not registered", id), "", "")
}

func (t replicasTx) DeleteReplica(id string) error {
	if _, err := t.exec(qDeleteReplicaRoutes, id); err != nil {
		return t.writeErr(err, "", "")
	}
	if _, err := t.exec(qDeleteReplica, id); err != nil {
		return t.writeErr(err, "", "")
	}
	return nil
}

func scanReplica(r scanner) (*lanyard.Replica, error) {
	var x lanyard.Replica
	var started, beat, expires int64
	if err := r.Scan(&x.ID, &x.PeerURL, &x.AgentURL, &x.ClientSerial, &x.ServerSerial, &started, &beat, &expires); err != nil {
		return nil, err
	}
	x.StartedAt, x.HeartbeatAt, x.ExpiresAt = fromMicros(started), fromMicros(beat), fromMicros(expires)
	return &x, nil
}

func (t replicasTx) LiveReplicas(now time.Time) ([]*lanyard.Replica, error) {
	rows, err := t.rows(qLiveReplicas, micros(normTime(now)))
	return collect(t.txn, rows, err, scanReplica)
}

func (t replicasTx) ReplicaByClientSerial(serial string, now time.Time) (*lanyard.Replica, error) {
	r, err := scanReplica(t.row(qReplicaByClientCert, serial, micros(normTime(now))))
	if err != nil {
		return nil, t.readErr(err, notFound("no live replica holds certificate %s", serial))
	}
	return r, nil
}

func (t replicasTx) PurgeReplicas(before time.Time) (int, error) {
	b := micros(normTime(before))
	if _, err := t.exec(qPurgeReplicaRoutes, b); err != nil {
		return 0, t.writeErr(err, "", "")
	}
	res, err := t.exec(qPurgeReplicas, b)
	return t.affected(res, err)
}

func (t replicasTx) PutAgentRoute(rt *lanyard.AgentRoute) (bool, error) {
	rt.ConnectedAt = normTime(rt.ConnectedAt)
	if rt.Epoch == 0 {
		// PostgreSQL: a sequence, never rolled back and shared by every
		// session; SQLite (one writer): a counter row.
		if err := t.tx.QueryRowContext(t.ctx, t.d.RouteEpoch).Scan(&rt.Epoch); err != nil {
			return false, t.fail(t.asLanyard(err))
		}
	}
	res, err := t.exec(qPutAgentRoute, rt.WorkstationID, rt.ReplicaID, rt.Epoch, micros(rt.ConnectedAt))
	if err != nil {
		return false, t.writeErr(err, "", "the route names a workstation that does not exist")
	}
	n, err := t.affected(res, nil)
	return n > 0, err
}

func (t replicasTx) DeleteAgentRoute(workstationID int64, replicaID string, epoch int64) (bool, error) {
	res, err := t.exec(qDeleteAgentRoute, workstationID, replicaID, epoch)
	n, err := t.affected(res, err)
	return n > 0, err
}

func (t replicasTx) LiveAgentRoutes(f lanyard.AgentRouteFilter, now time.Time) ([]*lanyard.AgentRoute, error) {
	q := `SELECT r.workstation_id, r.replica_id, r.epoch, r.connected_at, p.peer_url FROM agent_routes r
		JOIN replicas p ON p.id = r.replica_id`
	where := []string{"p.expires_at > ?"}
	args := []any{micros(normTime(now))}
	if f.OwnerID != 0 || f.Role != "" {
		q += ` JOIN workstations w ON w.id = r.workstation_id`
	}
	if f.OwnerID != 0 {
		where = append(where, "w.owner_id = ?")
		args = append(args, f.OwnerID)
	}
	if f.Role != "" {
		where = append(where, "w.role = ?")
		args = append(args, string(f.Role))
	}
	if f.IDs != nil {
		if len(f.IDs) == 0 {
			return []*lanyard.AgentRoute{}, nil
		}
		where = append(where, "r.workstation_id IN "+inList(len(f.IDs)))
		args = append(args, idArgs(f.IDs)...)
	}
	rows, err := t.query(q+" WHERE "+strings.Join(where, " AND ")+" ORDER BY r.workstation_id", args...)
	return collect(t.txn, rows, err, func(r scanner) (*lanyard.AgentRoute, error) {
		var x lanyard.AgentRoute
		var at int64
		if err := r.Scan(&x.WorkstationID, &x.ReplicaID, &x.Epoch, &at, &x.PeerURL); err != nil {
			return nil, err
		}
		x.ConnectedAt = fromMicros(at)
		return &x, nil
	})
}

func (t replicasTx) ListReplicas() ([]*lanyard.Replica, error) {
	rows, err := t.rows(qListReplicas)
	return collect(t.txn, rows, err, scanReplica)
}

func (t replicasTx) AgentRouteCounts() (map[string]map[lanyard.WorkstationRole]int, error) {
	rows, err := t.rows(qAgentRouteCounts)
	if err != nil {
		return nil, t.readErr(err, nil)
	}
	defer rows.Close()
	out := map[string]map[lanyard.WorkstationRole]int{}
	for rows.Next() {
		var id string
		var role lanyard.WorkstationRole
		var n int
		if err := rows.Scan(&id, &role, &n); err != nil {
			return nil, t.readErr(err, nil)
		}
		if out[id] == nil {
			out[id] = map[lanyard.WorkstationRole]int{}
		}
		out[id][role] = n
	}
	if err := rows.Err(); err != nil {
		return nil, t.readErr(err, nil)
	}
	return out, nil
}
