-- Offline unblock responses given (keep in step with
-- sqlite/0018_offline_unblocks.sql; docs/lifecycle.md, "Offline
-- unblock"). One row per challenge answered: the unique index is what
-- refuses to answer the same challenge twice. The response is not kept.
CREATE TABLE offline_unblocks (
    id              BIGSERIAL PRIMARY KEY,
    card_id         BIGINT  NOT NULL REFERENCES cards (id),
    scheme          TEXT    NOT NULL,
    counter         INTEGER NOT NULL,
    nonce           BIGINT  NOT NULL,
    channel         TEXT    NOT NULL,
    actor_id        BIGINT  NOT NULL REFERENCES users (id),
    answers_checked BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT  NOT NULL
);
CREATE UNIQUE INDEX offline_unblocks_challenge ON offline_unblocks (card_id, scheme, counter, nonce);
