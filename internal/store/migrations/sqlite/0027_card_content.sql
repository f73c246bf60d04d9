-- The Card Monitor (keep in step with postgres/0027_card_content.sql;
-- docs/lifecycle.md, "Card Monitor"). card_content holds each card's
-- content status and when it must be looked at again (next_check_at, 0:
-- never), so a run reads only the cards that are due or changed, never
-- every certificate.
CREATE TABLE card_content (
    card_id         INTEGER PRIMARY KEY REFERENCES cards (id),
    status          TEXT    NOT NULL,
    next_check_at   INTEGER NOT NULL DEFAULT 0,
    notified_status TEXT    NOT NULL DEFAULT '',
    notified_at     INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX card_content_due ON card_content (next_check_at) WHERE next_check_at <> 0;
CREATE INDEX card_content_status ON card_content (status) WHERE status <> 'none';
-- What changed since the last run.
CREATE INDEX certificates_updated ON certificates (updated_at, card_id);
CREATE INDEX cards_updated ON cards (updated_at);

-- Scheduled jobs run once across replicas: a replica claims the job's
-- row (holder, lease_until) and records what the next run starts from.
CREATE TABLE job_runs (
    name        TEXT PRIMARY KEY,
    holder      TEXT    NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    mark        INTEGER NOT NULL DEFAULT 0,
    extra       TEXT    NOT NULL DEFAULT '',
    run_at      INTEGER NOT NULL DEFAULT 0
) STRICT;
