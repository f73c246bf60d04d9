-- Random PINs held for a purpose (keep in step with
-- postgres/0016_held_pins.sql). When a card issue sets a random user PIN
-- the server may keep it, sealed, for one purpose: "mail", for the
-- result dialog's "E-mail it to me / to my manager" (a few minutes), or
-- "owner", for the card's owner to see once when someone else issued the
-- card (until they look, or it expires). Each copy is its own row, not a
-- field of the operation record: taking it touches no operation (a
-- Continue of the issue does not collide with it), it expires by an
-- indexed DELETE, and clearing the card deletes it.
--
-- sealed: the PIN sealed by the server, bound to (operation, purpose);
-- empty once a mail copy was mailed (the row stays, mailed_to saying to
-- whom, until it expires). recipients: for "mail", the addresses the
-- choices named when the copy was made, as JSON [{"to","address"}]: a
-- later change of the user's or the manager's address does not redirect
-- the PIN.
CREATE TABLE held_pins (
    operation_id INTEGER NOT NULL REFERENCES operations (id),
    purpose      TEXT    NOT NULL,
    card_id      INTEGER NOT NULL REFERENCES cards (id),
    owner_id     INTEGER NOT NULL REFERENCES users (id),
    sealed       BLOB    NOT NULL DEFAULT x'',
    recipients   TEXT    NOT NULL DEFAULT '[]',
    mailed_to    TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (operation_id, purpose)
) STRICT;
CREATE INDEX held_pins_expires ON held_pins (expires_at);
CREATE INDEX held_pins_card ON held_pins (card_id);
CREATE INDEX held_pins_owner ON held_pins (owner_id, purpose);

-- The copies kept so far in the issue records (issue 14) are not moved:
-- they lived minutes (mail) or until the owner's next login (owner). They
-- are erased, so that no later start can serve them.
UPDATE operations
SET data = CAST(json_remove(CAST(data AS TEXT), '$.pin_copy', '$.pin_copy_until', '$.pin_copy_to', '$.pin_copy_mailed', '$.owner_pin') AS BLOB)
WHERE kind = 'issue' AND json_valid(CAST(data AS TEXT))
  AND (CAST(data AS TEXT) LIKE '%"pin_copy%' OR CAST(data AS TEXT) LIKE '%"owner_pin"%');
