-- Where each account comes from (keep in step with the other engine's
-- 0032_user_sources.sql; docs/directory.md). source is '' for accounts
-- made in Lanyard, 'ldap' for a directory source's (source_id names it),
-- 'scim' for accounts a SCIM client pushed, 'oidc' for accounts made at a
-- single sign-on. external_id is the source's immutable identifier
-- (objectGUID, entryUUID, the SCIM id): accounts are matched by it, never
-- by login, so a rename at the source is an update and two sources never
-- merge into one account.
ALTER TABLE users ADD COLUMN source      TEXT    NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN source_id   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN external_id TEXT    NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN dn          TEXT    NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external ON users (source, source_id, external_id) WHERE external_id <> '';
