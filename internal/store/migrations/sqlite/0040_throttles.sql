-- The guess throttles' state (keep in step with the other engine's
-- 0040_throttles.sql; docs/security.md, "Throttles across replicas"):
-- one row per throttle key, keyed by an HMAC of the key under a key
-- derived from the master key (keys hold logins and client addresses),
-- the value encoded by internal/auth, and when the row stops mattering;
-- rows past expires_at are purged.
CREATE TABLE throttles (
    key_hash   BLOB    NOT NULL PRIMARY KEY,
    value      BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX throttles_expires ON throttles (expires_at);
