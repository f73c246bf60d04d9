-- Key recovery requests record where the owner's notice of the request
-- went and when the request expires; a pending request past that time is
-- expired (keep in step with sqlite/0030_key_recovery_checks.sql;
-- docs/lifecycle.md, "Key recovery").
--
-- owner_email: the owner's e-mail address at the request. Approval and
-- download are refused when it has changed since: the owner, who must be
-- able to object, was told at the old address.
-- expires_at: when a pending request stops being decidable; a request of
-- before this migration gets 7 days from its creation (the default).
ALTER TABLE key_recovery_requests
    ADD COLUMN owner_email TEXT NOT NULL DEFAULT '',
    ADD COLUMN expires_at  BIGINT NOT NULL DEFAULT 0,
    DROP CONSTRAINT key_recovery_requests_state_check,
    ADD CONSTRAINT key_recovery_requests_state_check CHECK (state IN ('pending', 'approved', 'rejected', 'downloaded', 'expired'));
UPDATE key_recovery_requests r SET
    owner_email = COALESCE((SELECT u.email FROM users u WHERE u.id = r.owner_id), ''),
    expires_at = r.created_at + 7::BIGINT * 86400 * 1000000;
