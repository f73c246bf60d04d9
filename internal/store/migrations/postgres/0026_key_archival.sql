-- Key archival (keep in step with sqlite/0026_key_archival.sql;
-- docs/lifecycle.md, "Key archival").
--
-- Archive key is only for key-management templates
-- (lanyard.ArchivalAllowed): a template saved before the rule with archive
-- key on and a signing or logon usage, or no key-management usage, has it
-- turned off. The flag did nothing before this migration (no key was ever
-- archived), so no card or certificate changes; docs/lifecycle.md says so.
UPDATE templates SET key_archival = false
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
    version    BIGINT NOT NULL PRIMARY KEY CHECK (version > 0),
    sealed_key BYTEA    NOT NULL,
    created_at BIGINT NOT NULL
);

-- Private keys generated on the server for archive-key templates, sealed
-- under a version of the key-recovery (KRA) key (internal/service/archive).
-- An owner has several per template over time (renewals with a new key);
-- recovery takes them newest first: the current one into the template's
-- slot, earlier ones into the retired key slots. The template is kept by
-- name, as certificates keep it, so deleting a template loses no key.
CREATE TABLE archived_keys (
    id                 BIGSERIAL PRIMARY KEY,
    owner_id           BIGINT NOT NULL REFERENCES users (id),
    card_id            BIGINT NOT NULL REFERENCES cards (id),
    template           TEXT    NOT NULL,
    key_algorithm      TEXT    NOT NULL,
    public_key         BYTEA    NOT NULL,
    certificate_serial TEXT    NOT NULL DEFAULT '',
    kra_version        BIGINT NOT NULL REFERENCES kra_keys (version),
    sealed_key         BYTEA    NOT NULL,
    state              TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'discarded')),
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX archived_keys_owner ON archived_keys (owner_id, template, created_at);
CREATE INDEX archived_keys_kra ON archived_keys (kra_version);
