-- The last known PIN status of each card (keep in step with
-- sqlite/0023_card_pin_status.sql; docs/lifecycle.md, "PIN blocked
-- cards"): as an agent read it without spending a try, or as Lanyard's
-- own PIN reset, change or unblock left it. One row per card, replaced
-- only when the status changes. Counts are -1 (tries left) or 0 (total)
-- when the card did not say; workstation_id is where the card was seen,
-- NULL when no agent reported it.
CREATE TABLE card_pin_status (
    card_id         BIGINT  PRIMARY KEY REFERENCES cards (id),
    pin_tries_left  INTEGER NOT NULL,
    pin_tries_total INTEGER NOT NULL,
    puk_tries_left  INTEGER NOT NULL,
    pin_blocked     BOOLEAN NOT NULL DEFAULT false,
    reported_at     BIGINT  NOT NULL,
    workstation_id  BIGINT  REFERENCES workstations (id)
);
-- The console's "PIN blocked" filter.
CREATE INDEX card_pin_status_blocked ON card_pin_status (card_id) WHERE pin_blocked;
