-- Key recovery requests record where the owner's notice of the request
-- went and when the request expires; a pending request past that time is
-- expired (keep in step with postgres/0030_key_recovery_checks.sql;
-- docs/lifecycle.md, "Key recovery").
--
-- owner_email: the owner's e-mail address at the request. Approval and
-- download are refused when it has changed since: the owner, who must be
-- able to object, was told at the old address.
-- expires_at: when a pending request stops being decidable; a request of
-- before this migration gets 7 days from its creation (the default).
-- SQLite changes a CHECK only by rebuilding the table; nothing references
-- key_recovery_requests.
CREATE TABLE key_recovery_requests_new (
    id              INTEGER PRIMARY KEY,
    archived_key_id INTEGER NOT NULL REFERENCES archived_keys (id),
    owner_id        INTEGER NOT NULL REFERENCES users (id),
    requested_by    INTEGER NOT NULL REFERENCES users (id),
    reason          TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'downloaded', 'expired')),
    decided_by      INTEGER REFERENCES users (id),
    comment         TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    owner_email     TEXT    NOT NULL DEFAULT '',
    expires_at      INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO key_recovery_requests_new (id, archived_key_id, owner_id, requested_by, reason, state, decided_by, comment, created_at, updated_at, owner_email, expires_at)
SELECT r.id, r.archived_key_id, r.owner_id, r.requested_by, r.reason, r.state, r.decided_by, r.comment, r.created_at, r.updated_at,
       COALESCE((SELECT u.email FROM users u WHERE u.id = r.owner_id), ''), r.created_at + 7 * 86400 * 1000000
FROM key_recovery_requests r;
DROP TABLE key_recovery_requests;
ALTER TABLE key_recovery_requests_new RENAME TO key_recovery_requests;
CREATE INDEX key_recovery_requests_state ON key_recovery_requests (state, created_at);
