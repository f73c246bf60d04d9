-- Offline unblock responses given (keep in step with
-- postgres/0018_offline_unblocks.sql; docs/lifecycle.md, "Offline
-- unblock"). One row per challenge answered: the unique index is what
-- refuses to answer the same challenge twice. The response is not kept.
CREATE TABLE offline_unblocks (
    id              INTEGER PRIMARY KEY,
    card_id         INTEGER NOT NULL REFERENCES cards (id),
    scheme          TEXT    NOT NULL,
    counter         INTEGER NOT NULL,
    nonce           INTEGER NOT NULL,
    channel         TEXT    NOT NULL,
    actor_id        INTEGER NOT NULL REFERENCES users (id),
    answers_checked INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX offline_unblocks_challenge ON offline_unblocks (card_id, scheme, counter, nonce);
