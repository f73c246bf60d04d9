-- Requests to recover someone else's archived key under dual control
-- (keep in step with sqlite/0029_key_recovery_requests.sql;
-- docs/lifecycle.md, "Key archival"): one person requests with a reason,
-- another approves or rejects, the requester downloads once.
CREATE TABLE key_recovery_requests (
    id              BIGSERIAL PRIMARY KEY,
    archived_key_id BIGINT NOT NULL REFERENCES archived_keys (id),
    owner_id        BIGINT NOT NULL REFERENCES users (id),
    requested_by    BIGINT NOT NULL REFERENCES users (id),
    reason          TEXT   NOT NULL,
    state           TEXT COLLATE "C" NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'downloaded')),
    decided_by      BIGINT REFERENCES users (id),
    comment         TEXT   NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX key_recovery_requests_state ON key_recovery_requests (state, created_at);
