-- Workstations: paired agents (issue #4). Keep in step with
-- postgres/0003_workstations.sql.
--
-- pairing_code is the hex SHA-256 of a pending pairing's code ('' once
-- paired); cert_serial the hex serial of the client certificate ('' until
-- paired). Both are unique while set, so a code or a certificate names at
-- most one workstation.
CREATE TABLE workstations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL,
    owner_id      INTEGER REFERENCES users (id),
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
    public_key    BLOB    NOT NULL DEFAULT x'',
    key_sha256    TEXT    NOT NULL DEFAULT '',
    cert_serial   TEXT    NOT NULL DEFAULT '',
    pairing_code  TEXT    NOT NULL DEFAULT '',
    pairing_expires_at INTEGER NOT NULL DEFAULT 0,
    tpm           INTEGER NOT NULL DEFAULT 0 CHECK (tpm IN (0, 1)),
    agent_version TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    paired_at     INTEGER NOT NULL DEFAULT 0,
    last_seen_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX workstations_pairing_code ON workstations (pairing_code) WHERE pairing_code <> '';
CREATE UNIQUE INDEX workstations_cert_serial ON workstations (cert_serial) WHERE cert_serial <> '';
CREATE INDEX workstations_owner ON workstations (owner_id);
