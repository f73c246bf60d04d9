-- TOTP second factor (RFC 6238): one authenticator app per user, the
-- second factor proven with the password before a platform credential's
-- PIN is set. Keep in step with sqlite/0006_totp.sql.
--
-- secret is the shared HMAC key sealed with seal.Sealer (AAD
-- "totp-secret:<user id>"), never stored in clear. confirmed_at is 0 until
-- a valid code confirmed the enrollment (only then does it count).
-- last_step is the newest accepted time step (Unix time / 30 s): codes of
-- that step or older are refused as replays.
CREATE TABLE totp_enrollments (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BYTEA  NOT NULL,
    confirmed_at BIGINT NOT NULL DEFAULT 0,
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
