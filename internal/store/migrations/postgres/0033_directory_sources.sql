-- Directory sources: the LDAP and Active Directory connections whose users
-- Lanyard syncs (keep in step with sqlite/0033_directory_sources.sql;
-- docs/directory.md, "Directory sources and sync"). bind_password is
-- sealed by the caller (internal/seal, AAD names the source) and never
-- read back by the API. sync_state is the reader's opaque incremental
-- state after the last completed sync ('' = the next one is full);
-- last_report that sync's report as JSON; last_error why the last sync
-- that failed did ('' once one completes). Times are microseconds (UTC).
CREATE TABLE directory_sources (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT COLLATE "C" NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('ad', 'openldap')),
    url             TEXT    NOT NULL,
    start_tls       BOOLEAN NOT NULL DEFAULT FALSE,
    ca_pem          TEXT    NOT NULL DEFAULT '',
    bind_dn         TEXT    NOT NULL DEFAULT '',
    bind_password   BYTEA   NOT NULL DEFAULT ''::bytea,
    base_dn         TEXT    NOT NULL,
    user_filter     TEXT    NOT NULL DEFAULT '',
    group_filter    TEXT    NOT NULL DEFAULT '',
    page_size       BIGINT NOT NULL DEFAULT 0,
    mapping         TEXT    NOT NULL DEFAULT '',
    sync_interval   BIGINT NOT NULL DEFAULT 0,
    leaver_action   TEXT    NOT NULL DEFAULT '' CHECK (leaver_action IN ('', 'disable', 'revoke')),
    enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    sync_state      TEXT    NOT NULL DEFAULT '',
    last_report     TEXT    NOT NULL DEFAULT '',
    last_sync_at    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_at   BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
