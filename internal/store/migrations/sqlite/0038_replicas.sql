-- The cluster's replica directory and agent routes (keep in step with the
-- other engine's 0038_replicas.sql; docs/architecture.md, "Cluster").
-- Each `lanyard serve` on PostgreSQL registers itself under a random ID
-- with the URL other replicas reach its peer listener at and the serials
-- of its replica certificates (template "replica"); it renews
-- heartbeat_at/expires_at every --replica-heartbeat and counts as gone
-- once expires_at has passed. agent_routes says which replica holds each
-- workstation's (and AirCard service's) agent connection: written on
-- connect with an epoch drawn from agent_route_epoch (SQLite has no
-- sequences: a one-row counter), so a newer connection's row is never
-- overwritten by an older one, and deleted on disconnect only by the
-- (replica, epoch) that wrote it. SQLite runs no cluster; the tables keep
-- the store contract the same on both engines.
CREATE TABLE replicas (
    id            TEXT    NOT NULL PRIMARY KEY,
    peer_url      TEXT    NOT NULL,
    agent_url     TEXT    NOT NULL DEFAULT '',
    client_serial TEXT    NOT NULL DEFAULT '',
    server_serial TEXT    NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX replicas_client_serial ON replicas (client_serial);

CREATE TABLE agent_route_epoch (
    one   INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
    value INTEGER NOT NULL
);
INSERT INTO agent_route_epoch (one, value) VALUES (1, 0);

CREATE TABLE agent_routes (
    workstation_id INTEGER NOT NULL PRIMARY KEY REFERENCES workstations (id) ON DELETE CASCADE,
    replica_id     TEXT    NOT NULL,
    epoch          INTEGER NOT NULL,
    connected_at   INTEGER NOT NULL
);
CREATE INDEX agent_routes_replica ON agent_routes (replica_id);
