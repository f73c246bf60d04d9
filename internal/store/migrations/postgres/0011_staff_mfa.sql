-- Staff sign in with a second factor (issue 13). Keep in step with
-- sqlite/0011_staff_mfa.sql.
--
-- sessions.second_factor_at is when the login's authenticator app code
-- was verified (Unix microseconds; 0: password only). Sessions made before
-- this migration have 0, so a staff account's old sessions stop working
-- (the service refuses a staff session without a second factor) while
-- other users stay logged in.
ALTER TABLE sessions ADD COLUMN second_factor_at BIGINT NOT NULL DEFAULT 0;

-- A login between its two factors: the password was right, the code (or
-- the authenticator app's enrollment) is due. hash is the SHA-256 of the
-- random secret in the browser's login cookie; it grants nothing but the
-- second step, for a few minutes. mode is the second factor it was made
-- for ('code': the confirmed authenticator app; 'enroll': a new one), and
-- enrollment the SHA-256 of that app's sealed secret: the step accepts
-- that enrollment only, so a challenge cannot be used with an app set up
-- after it (another login's enrollment, a reset).
CREATE TABLE login_challenges (
    hash       BYTEA  NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mode       TEXT   NOT NULL CHECK (mode IN ('code', 'enroll')),
    enrollment BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);
CREATE INDEX login_challenges_user ON login_challenges (user_id);

-- API tokens are capped at the token policy's default longest lifetime,
-- 90 days (service.DefaultTokenTTL, in microseconds here): tokens made
-- before the cap (the bootstrap token of 30 days is within it; scripts'
-- tokens of a year are not) expire 90 days after they were made.
-- Lowering the cap later (PutTokenSettings) clips them the same way.
UPDATE api_tokens SET expires_at = created_at + 7776000000000
 WHERE expires_at > created_at + 7776000000000;
