-- A UPN names one user, whatever its case (keep in step with
-- sqlite/0009_upn_unique.sql, which explains why and what happens to
-- existing duplicates: the oldest user keeps the UPN, the later ones lose
-- it and are listed in upn_duplicates_0009 for review).
CREATE TABLE upn_duplicates_0009 (
    user_id    BIGINT NOT NULL PRIMARY KEY,
    login      TEXT   NOT NULL,
    upn        TEXT   NOT NULL,
    kept_by_id BIGINT NOT NULL
);

INSERT INTO upn_duplicates_0009 (user_id, login, upn, kept_by_id)
SELECT u.id, u.login, u.upn,
       (SELECT o.id FROM users o WHERE lower(o.upn) = lower(u.upn) ORDER BY o.created_at, o.id LIMIT 1)
FROM users u
WHERE u.upn <> '' AND EXISTS (
    SELECT 1 FROM users o
    WHERE lower(o.upn) = lower(u.upn) AND o.id <> u.id
      AND (o.created_at < u.created_at OR (o.created_at = u.created_at AND o.id < u.id)));

UPDATE users SET upn = '' WHERE id IN (SELECT user_id FROM upn_duplicates_0009);

CREATE UNIQUE INDEX users_upn_lower ON users (lower(upn)) WHERE upn <> '';
