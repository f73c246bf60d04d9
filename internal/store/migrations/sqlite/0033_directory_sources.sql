-- Directory sources: the LDAP and Active Directory connections whose users
-- Lanyard syncs (keep in step with postgres/0033_directory_sources.sql;
-- docs/directory.md, "Directory sources and sync"). bind_password is
-- sealed by the caller (internal/seal, AAD names the source) and never
-- read back by the API. sync_state is the reader's opaque incremental
-- state after the last completed sync ('' = the next one is full);
-- last_report that sync's report as JSON; last_error why the last sync
-- that failed did ('' once one completes). Times are microseconds (UTC).
-- AUTOINCREMENT: a source's id is never given to another source, even
-- after it is deleted (users.source_id names it; postgres: BIGSERIAL).
CREATE TABLE directory_sources (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('ad', 'openldap')),
    url             TEXT    NOT NULL,
    start_tls       INTEGER NOT NULL DEFAULT 0,
    ca_pem          TEXT    NOT NULL DEFAULT '',
    bind_dn         TEXT    NOT NULL DEFAULT '',
    bind_password   BLOB    NOT NULL DEFAULT x'',
    base_dn         TEXT    NOT NULL,
    user_filter     TEXT    NOT NULL DEFAULT '',
    group_filter    TEXT    NOT NULL DEFAULT '',
    page_size       INTEGER NOT NULL DEFAULT 0,
    mapping         TEXT    NOT NULL DEFAULT '',
    sync_interval   INTEGER NOT NULL DEFAULT 0,
    leaver_action   TEXT    NOT NULL DEFAULT '' CHECK (leaver_action IN ('', 'disable', 'revoke')),
    enabled         INTEGER NOT NULL DEFAULT 0,
    sync_state      TEXT    NOT NULL DEFAULT '',
    last_report     TEXT    NOT NULL DEFAULT '',
    last_sync_at    INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_at   INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
