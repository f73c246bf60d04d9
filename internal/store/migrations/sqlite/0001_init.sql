-- Lanyard schema version 1, SQLite dialect. Keep in step with
-- postgres/0001_init.sql.
--
-- Conventions (shared with PostgreSQL, so both engines round-trip exactly):
--   * times are INTEGER Unix microseconds UTC; 0 means "not set";
--   * lists, sets and settings documents are JSON text, never NULL;
--   * optional references are NULL, never 0, so foreign keys hold;
--   * secrets arrive sealed by the caller and are stored as opaque BLOBs;
--   * tables are STRICT so a wrongly typed value fails instead of being
--     silently converted.
-- Surrogate ids use AUTOINCREMENT so an id is never reused after a delete
-- (audit events refer to objects by id).

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    login         TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    email         TEXT    NOT NULL DEFAULT '',
    upn           TEXT    NOT NULL DEFAULT '',
    manager_email TEXT    NOT NULL DEFAULT '',
    user_groups   TEXT    NOT NULL DEFAULT '[]',
    roles         TEXT    NOT NULL DEFAULT '[]',
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    password_hash TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL DEFAULT '',
    hash         BLOB    NOT NULL UNIQUE,
    roles        TEXT    NOT NULL DEFAULT '[]',
    expires_at   INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE sessions (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE card_types (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL UNIQUE,
    description           TEXT    NOT NULL DEFAULT '',
    kind                  TEXT    NOT NULL,
    atr_patterns          TEXT    NOT NULL DEFAULT '[]',
    admin_key_kind        TEXT    NOT NULL DEFAULT '',
    admin_key_mode        TEXT    NOT NULL DEFAULT '',
    sealed_secrets        BLOB    NOT NULL DEFAULT x'',
    has_default_admin_key INTEGER NOT NULL DEFAULT 0 CHECK (has_default_admin_key IN (0, 1)),
    has_default_user_pin  INTEGER NOT NULL DEFAULT 0 CHECK (has_default_user_pin IN (0, 1)),
    has_default_puk       INTEGER NOT NULL DEFAULT 0 CHECK (has_default_puk IN (0, 1)),
    pin_policy            TEXT    NOT NULL DEFAULT '{}',
    key_algorithms        TEXT    NOT NULL DEFAULT '[]',
    supports_init         INTEGER NOT NULL DEFAULT 0 CHECK (supports_init IN (0, 1)),
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
) STRICT;

CREATE TABLE templates (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT    NOT NULL UNIQUE,
    display_name           TEXT    NOT NULL DEFAULT '',
    ca                     TEXT    NOT NULL,
    key_algorithms         TEXT    NOT NULL DEFAULT '[]',
    validity_days          INTEGER NOT NULL,
    key_usage              TEXT    NOT NULL DEFAULT '[]',
    ext_key_usage          TEXT    NOT NULL DEFAULT '[]',
    subject                TEXT    NOT NULL DEFAULT '{}',
    slot                   TEXT    NOT NULL DEFAULT '',
    requires_ca_approval   INTEGER NOT NULL DEFAULT 0 CHECK (requires_ca_approval IN (0, 1)),
    requires_form_approval INTEGER NOT NULL DEFAULT 0 CHECK (requires_form_approval IN (0, 1)),
    prompt_key_password    INTEGER NOT NULL DEFAULT 0 CHECK (prompt_key_password IN (0, 1)),
    key_archival           INTEGER NOT NULL DEFAULT 0 CHECK (key_archival IN (0, 1)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
) STRICT;

-- Assignments live in a JSON column: policies are few, always loaded whole
-- (internal/policy computes the effective policy in memory), and a policy
-- with its assignments then reads and writes as one row.
CREATE TABLE policies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    priority    INTEGER NOT NULL,
    settings    TEXT    NOT NULL DEFAULT '{}',
    assignments TEXT    NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- CAs Lanyard runs itself. Certificates name their CA by text and have no
-- foreign key here, because external CAs (step-ca) issue certificates too.
CREATE TABLE cas (
    name        TEXT    NOT NULL PRIMARY KEY,
    kind        TEXT    NOT NULL,
    cert_der    BLOB    NOT NULL DEFAULT x'',
    chain_der   TEXT    NOT NULL DEFAULT '[]', -- JSON array of base64 DER, issuing CA first
    sealed_key  BLOB    NOT NULL DEFAULT x'',
    crl_number  INTEGER NOT NULL DEFAULT 0,
    crl_der     BLOB    NOT NULL DEFAULT x'',
    crl_updated INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE certificates (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    ca                     TEXT    NOT NULL,
    serial                 TEXT    NOT NULL,
    template               TEXT    NOT NULL DEFAULT '',
    user_id                INTEGER REFERENCES users (id),
    card_id                INTEGER, -- cards arrive in a later migration
    request_id             INTEGER, -- cert_requests refers back here; no cycle of foreign keys
    subject                TEXT    NOT NULL DEFAULT '',
    not_before             INTEGER NOT NULL,
    not_after              INTEGER NOT NULL,
    status                 TEXT    NOT NULL,
    source                 TEXT    NOT NULL,
    key_sha256             TEXT    NOT NULL DEFAULT '',
    der                    BLOB    NOT NULL DEFAULT x'',
    revoked_at             INTEGER NOT NULL DEFAULT 0,
    revocation_reason      INTEGER NOT NULL DEFAULT 0,
    revocation_reason_name TEXT    NOT NULL DEFAULT '',
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    UNIQUE (ca, serial)
) STRICT;
CREATE INDEX certificates_user ON certificates (user_id);
CREATE INDEX certificates_status ON certificates (status, ca);

CREATE TABLE cert_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    ca             TEXT    NOT NULL,
    template       TEXT    NOT NULL,
    user_id        INTEGER NOT NULL REFERENCES users (id),
    requested_by   INTEGER REFERENCES users (id),
    public_key     BLOB    NOT NULL DEFAULT x'',
    csr            BLOB    NOT NULL DEFAULT x'',
    key_sha256     TEXT    NOT NULL DEFAULT '',
    subject        TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    certificate_id INTEGER REFERENCES certificates (id),
    decided_by     INTEGER REFERENCES users (id),
    comment        TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    decided_at     INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX cert_requests_status ON cert_requests (status, id);

CREATE TABLE settings (
    name  TEXT NOT NULL PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

-- The audit log. seq is assigned by AppendAudit (last + 1), not by
-- AUTOINCREMENT, so a deleted event leaves a visible gap as well as a broken
-- hash chain. details is a BLOB so the JSON is kept byte for byte.
CREATE TABLE audit_events (
    seq         INTEGER PRIMARY KEY CHECK (seq > 0),
    occurred_at INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object_type TEXT    NOT NULL DEFAULT '',
    object_id   TEXT    NOT NULL DEFAULT '',
    remote_addr TEXT    NOT NULL DEFAULT '',
    details     BLOB    NOT NULL DEFAULT x'',
    prev_hash   BLOB    NOT NULL DEFAULT x'',
    hash        BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_events_object ON audit_events (object_type, object_id);

-- Append-only, enforced by the database too: the hash chain detects
-- tampering, these triggers stop the accidental kind.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
