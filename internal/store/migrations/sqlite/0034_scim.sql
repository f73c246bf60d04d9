-- SCIM 2.0 provisioning (RFC 7643/7644; docs/directory.md, "SCIM
-- provisioning"). Keep in step with postgres/0034_scim.sql.
--
-- scim_tokens: the bearer tokens of SCIM clients. They belong to no user
-- and open only /scim/v2/; only the SHA-256 of the secret is kept. A
-- token's client is its name up to the first '/' ("entra" for "entra"
-- and "entra/2027"): the users and groups it pushes belong to that
-- client (scim_users.client, scim_groups.client), so that a replacement
-- token manages its predecessor's resources and no other client's.
CREATE TABLE scim_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL DEFAULT '',
    hash         BLOB    NOT NULL UNIQUE,
    created_by   TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
) STRICT;

-- scim_users: what a SCIM client wrote of an account beyond the users
-- row: its own externalId and the attributes users has no column for
-- (JSON object). users.external_id holds the SCIM id Lanyard assigned.
-- deleted: the client deleted the resource; the account stays (cards and
-- audit events refer to it), disabled, and the SCIM endpoint answers 404
-- for it (RFC 7644 section 3.6) until a client creates the same userName
-- again with the same externalId, which brings it back. client: the
-- SCIM client (token name up to '/') that pushed it; no other sees it.
CREATE TABLE scim_users (
    user_id     INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    client      TEXT    NOT NULL DEFAULT '',
    external_id TEXT    NOT NULL DEFAULT '',
    attributes  TEXT    NOT NULL DEFAULT '{}',
    deleted     INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
) STRICT;
CREATE INDEX scim_users_external ON scim_users (client, external_id) WHERE external_id <> '';
CREATE INDEX scim_users_client ON scim_users (client, user_id);
-- SCIM's userName is case-insensitive (RFC 7643 section 4.1.1): a pushed
-- login is refused when another account's equals it ignoring case, and
-- userName eq filters find it so.
CREATE INDEX users_login_lower ON users (lower(login));

-- scim_groups: groups a SCIM client pushed; their members' users.user_groups
-- hold display_name, by which policies link to them (unique over all
-- clients: User.Groups has one namespace).
CREATE TABLE scim_groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    resource_id  TEXT    NOT NULL UNIQUE,
    client       TEXT    NOT NULL DEFAULT '',
    display_name TEXT    NOT NULL,
    external_id  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX scim_groups_name ON scim_groups (lower(display_name));

CREATE TABLE scim_group_members (
    group_id INTEGER NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
) STRICT;
CREATE INDEX scim_group_members_user ON scim_group_members (user_id);
