-- Replace card (keep in step with postgres/0021_card_replacements.sql;
-- docs/lifecycle.md, "Replace"). One row per replacement: the old card,
-- the card that replaces it (replaced_by), permanent or temporary, and
-- whether the new card's issue has finished (pending, active) or a
-- temporary replacement ended (the original found). A card is replaced
-- at most once at a time and replaces at most one card at a time: the
-- partial unique indexes refuse a second open replacement; an ended one
-- (a temporary card returned, cleared and reused) does not count.
CREATE TABLE card_replacements (
    id          INTEGER PRIMARY KEY,
    old_card_id INTEGER NOT NULL REFERENCES cards (id),
    new_card_id INTEGER NOT NULL REFERENCES cards (id),
    kind        TEXT    NOT NULL CHECK (kind IN ('permanent', 'temporary')),
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'ended')),
    reason      TEXT    NOT NULL DEFAULT '',
    actor_id    INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    CHECK (old_card_id <> new_card_id)
) STRICT;
CREATE UNIQUE INDEX card_replacements_old ON card_replacements (old_card_id) WHERE state <> 'ended';
CREATE UNIQUE INDEX card_replacements_new ON card_replacements (new_card_id) WHERE state <> 'ended';
