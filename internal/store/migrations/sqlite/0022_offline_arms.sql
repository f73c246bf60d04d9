-- The offline unblock code armed in each TPM virtual card (keep in step
-- with postgres/0022_offline_arms.sql; docs/lifecycle.md, "Offline
-- unblock", scheme lanyard-tpm). One row per card: the counter and nonce
-- of its current code and the version of the card admin master secret
-- its code is derived from. The code itself is never stored: the server
-- derives it again from those. state: arming (recorded before ARM OFFLINE
-- UNBLOCK is sent), armed (the card took it), unavailable (the card
-- cannot hold a code: made before offline unblock).
CREATE TABLE offline_arms (
    card_id     INTEGER PRIMARY KEY REFERENCES cards (id),
    counter     INTEGER NOT NULL,
    nonce       INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
