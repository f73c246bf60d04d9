-- Every UPN a user has held, for good (keep in step with
-- sqlite/0014_upn_history.sql, which explains why): a UPN, ignoring case,
-- stays tied to the first user who held it.
CREATE TABLE upn_history (
    upn        TEXT   NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    first_held BIGINT NOT NULL
);
CREATE INDEX upn_history_user ON upn_history (user_id);

INSERT INTO upn_history (upn, user_id, first_held)
SELECT lower(upn), id, updated_at FROM users WHERE upn <> '';
