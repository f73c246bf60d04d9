-- Requests to recover someone else's archived key under dual control
-- (keep in step with postgres/0029_key_recovery_requests.sql;
-- docs/lifecycle.md, "Key archival"): one person requests with a reason,
-- another approves or rejects, the requester downloads once.
CREATE TABLE key_recovery_requests (
    id              INTEGER PRIMARY KEY,
    archived_key_id INTEGER NOT NULL REFERENCES archived_keys (id),
    owner_id        INTEGER NOT NULL REFERENCES users (id),
    requested_by    INTEGER NOT NULL REFERENCES users (id),
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'downloaded')),
    decided_by      INTEGER REFERENCES users (id),
    comment         TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX key_recovery_requests_state ON key_recovery_requests (state, created_at);
