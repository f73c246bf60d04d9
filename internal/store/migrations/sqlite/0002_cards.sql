-- Cards, their operations and users' secret questions (issue #4).
-- Keep in step with postgres/0002_cards.sql.

CREATE TABLE cards (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    serial            TEXT    NOT NULL,
    card_type         TEXT    NOT NULL,
    owner_id          INTEGER REFERENCES users (id),
    name              TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL,
    card_ident        TEXT    NOT NULL DEFAULT '',
    admin_key_version INTEGER NOT NULL DEFAULT 0,
    atr               BLOB    NOT NULL DEFAULT x'',
    workstation_id    INTEGER, -- workstations live in their own migration; no foreign key
    issued_at         INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (card_type, serial)
) STRICT;
CREATE INDEX cards_owner ON cards (owner_id);
CREATE INDEX certificates_card ON certificates (card_id);

CREATE TABLE operations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    card_id    INTEGER NOT NULL REFERENCES cards (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    actor_id   INTEGER REFERENCES users (id),
    state      TEXT    NOT NULL,
    step       TEXT    NOT NULL DEFAULT '',
    data       BLOB    NOT NULL DEFAULT x'',
    error      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX operations_card ON operations (card_id);
CREATE INDEX operations_state ON operations (state);

CREATE TABLE secret_answers (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    question    TEXT    NOT NULL,
    answer_hash TEXT    NOT NULL,
    PRIMARY KEY (user_id, position)
) STRICT;
