-- Random PINs held for a purpose (keep in step with
-- sqlite/0016_held_pins.sql, which explains the table).
CREATE TABLE held_pins (
    operation_id BIGINT NOT NULL REFERENCES operations (id),
    purpose      TEXT   NOT NULL,
    card_id      BIGINT NOT NULL REFERENCES cards (id),
    owner_id     BIGINT NOT NULL REFERENCES users (id),
    sealed       BYTEA  NOT NULL DEFAULT ''::bytea,
    recipients   TEXT   NOT NULL DEFAULT '[]',
    mailed_to    TEXT   NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (operation_id, purpose)
);
CREATE INDEX held_pins_expires ON held_pins (expires_at);
CREATE INDEX held_pins_card ON held_pins (card_id);
CREATE INDEX held_pins_owner ON held_pins (owner_id, purpose);

-- The copies kept so far in the issue records are erased, not moved.
UPDATE operations
SET data = convert_to((convert_from(data, 'UTF8')::jsonb
    - '{pin_copy,pin_copy_until,pin_copy_to,pin_copy_mailed,owner_pin}'::text[])::text, 'UTF8')
WHERE kind = 'issue'
  AND (convert_from(data, 'UTF8') LIKE '%"pin_copy%' OR convert_from(data, 'UTF8') LIKE '%"owner_pin"%');
