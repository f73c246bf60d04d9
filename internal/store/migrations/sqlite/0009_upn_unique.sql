-- A UPN names one user, whatever its case (keep in step with
-- postgres/0009_upn_unique.sql). A smart card logon certificate carries
-- the user's UPN and Windows maps it to an account case-insensitively, so
-- two Lanyard users sharing a UPN (in any case) could each log on as the
-- other.
--
-- Existing duplicates: the oldest user (created first, then lowest id)
-- keeps the UPN; the later ones lose theirs (set to ''), and are listed in
-- upn_duplicates_0009 so that an administrator can review them: the
-- certificates those users already hold still name the UPN and should be
-- revoked (the migration cannot revoke: revocation goes through the CA).
CREATE TABLE upn_duplicates_0009 (
    user_id    INTEGER NOT NULL PRIMARY KEY,
    login      TEXT    NOT NULL,
    upn        TEXT    NOT NULL,
    kept_by_id INTEGER NOT NULL
) STRICT;

INSERT INTO upn_duplicates_0009 (user_id, login, upn, kept_by_id)
SELECT u.id, u.login, u.upn,
       (SELECT o.id FROM users o WHERE lower(o.upn) = lower(u.upn) ORDER BY o.created_at, o.id LIMIT 1)
FROM users u
WHERE u.upn <> '' AND EXISTS (
    SELECT 1 FROM users o
    WHERE lower(o.upn) = lower(u.upn) AND o.id <> u.id
      AND (o.created_at < u.created_at OR (o.created_at = u.created_at AND o.id < u.id)));

UPDATE users SET upn = '' WHERE id IN (SELECT user_id FROM upn_duplicates_0009);

-- SQLite's lower() folds ASCII letters only; PostgreSQL's folds by the
-- database's locale. UPNs are ASCII in practice (AD accepts others, rarely
-- used).
CREATE UNIQUE INDEX users_upn_lower ON users (lower(upn)) WHERE upn <> '';
