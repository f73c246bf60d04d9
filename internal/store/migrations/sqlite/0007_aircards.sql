-- AirCards (issue #7). Keep in step with postgres/0007_aircards.sql.
--
-- workstations.role tells the AirCard service, which connects like an
-- agent, from workstations. aircard_computers is each AirCard's list of
-- allowed computers. aircard_codes are the one-hour, single-use codes an
-- operator gives a user to connect another computer: only the hex SHA-256
-- of a code is stored.
ALTER TABLE workstations ADD COLUMN role TEXT NOT NULL DEFAULT 'workstation' CHECK (role IN ('workstation', 'aircard_service'));

CREATE TABLE aircard_computers (
    card_id        INTEGER NOT NULL REFERENCES cards (id),
    workstation_id INTEGER NOT NULL REFERENCES workstations (id),
    added_by       TEXT    NOT NULL DEFAULT '',
    added_at       INTEGER NOT NULL,
    PRIMARY KEY (card_id, workstation_id)
) STRICT;
CREATE INDEX aircard_computers_workstation ON aircard_computers (workstation_id);

CREATE TABLE aircard_codes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id        INTEGER NOT NULL REFERENCES cards (id),
    code_hash      TEXT    NOT NULL UNIQUE,
    created_by     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER NOT NULL DEFAULT 0,
    used_by        INTEGER REFERENCES workstations (id)
) STRICT;
CREATE INDEX aircard_codes_card ON aircard_codes (card_id);
