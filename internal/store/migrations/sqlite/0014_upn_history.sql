-- Every UPN a user has held, for good (keep in step with
-- postgres/0014_upn_history.sql). A smart card logon certificate carries
-- its holder's UPN and Windows maps it to an account; a UPN that once named
-- one user and later names another would let a card of either reach the
-- other's account (or let a help desk move a UPN between users in two
-- steps: clear it on one, set it on the other). A UPN, ignoring case, is
-- therefore tied to the first user who held it: the store refuses to give
-- it to anyone else, even after its holder gave it up.
--
-- upn is lower(upn), as the unique index users_upn_lower (0009) compares
-- them. Users are not deleted, so user_id always names a user.
CREATE TABLE upn_history (
    upn        TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    first_held INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX upn_history_user ON upn_history (user_id);

-- Today's UPNs are unique (0009); each stays with its holder.
INSERT INTO upn_history (upn, user_id, first_held)
SELECT lower(upn), id, updated_at FROM users WHERE upn <> '';
