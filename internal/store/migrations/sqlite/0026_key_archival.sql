-- Key archival (keep in step with postgres/0026_key_archival.sql;
-- docs/lifecycle.md, "Key archival").
--
-- Archive key is only for key-management templates
-- (lanyard.ArchivalAllowed): a template saved before the rule with archive
-- key on and a signing or logon usage, or no key-management usage, has it
-- turned off. The flag did nothing before this migration (no key was ever
-- archived), so no card or certificate changes; docs/lifecycle.md says so.
UPDATE templates SET key_archival = 0
WHERE key_archival
  AND (key_usage LIKE '%"digital_signature"%'
    OR key_usage LIKE '%"content_commitment"%'
    OR ext_key_usage LIKE '%"smartcard_logon"%'
    OR ext_key_usage LIKE '%"client_auth"%'
    OR (key_usage NOT LIKE '%"key_encipherment"%' AND key_usage NOT LIKE '%"key_agreement"%'));

-- Versions of the key-recovery (KRA) key: a random AES-256 key, sealed
-- under the master key, that only seals archived private keys. A version is
-- never changed or deleted (archived keys sealed under it need it); the
-- highest is current. Rotation inserts the next version: two racing
-- rotations conflict on the primary key instead of one overwriting the
-- other's key.
CREATE TABLE kra_keys (
    version    INTEGER NOT NULL PRIMARY KEY CHECK (version > 0),
    sealed_key BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- Private keys generated on the server for archive-key templates, sealed
-- under a version of the key-recovery (KRA) key (internal/service/archive).
-- An owner has several per template over time (renewals with a new key);
-- recovery takes them newest first: the current one into the template's
-- slot, earlier ones into the retired key slots. The template is kept by
-- name, as certificates keep it, so deleting a template loses no key.
CREATE TABLE archived_keys (
    id                 INTEGER PRIMARY KEY,
    owner_id           INTEGER NOT NULL REFERENCES users (id),
    card_id            INTEGER NOT NULL REFERENCES cards (id),
    template           TEXT    NOT NULL,
    key_algorithm      TEXT    NOT NULL,
    public_key         BLOB    NOT NULL,
    certificate_serial TEXT    NOT NULL DEFAULT '',
    kra_version        INTEGER NOT NULL REFERENCES kra_keys (version),
    sealed_key         BLOB    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'discarded')),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX archived_keys_owner ON archived_keys (owner_id, template, created_at);
CREATE INDEX archived_keys_kra ON archived_keys (kra_version);
