-- The guess throttles' state (keep in step with the other engine's
-- 0040_throttles.sql; docs/security.md, "Throttles across replicas"):
-- one row per throttle key, keyed by an HMAC of the key under a key
-- derived from the master key (keys hold logins and client addresses),
-- the value encoded by internal/auth, and when the row stops mattering;
-- rows past expires_at are purged. Every replica changes a row under its
-- row lock, so a throttle counts the same on all of them.
CREATE TABLE throttles (
    key_hash   BYTEA  NOT NULL PRIMARY KEY,
    value      BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX throttles_expires ON throttles (expires_at);
