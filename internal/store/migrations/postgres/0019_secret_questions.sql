-- Secret questions as policy, the wrong-answer lock and Remote
-- Self-Service sessions (keep in step with sqlite/0019_secret_questions.sql).
--
-- Policies saved before Authentication existed get the defaults a new
-- policy has (policy.Defaults): the six questions Lanyard offered until
-- now, three asked, answers of three characters or more, locked after five
-- wrong answers in a row. A policy that already has the section keeps it.
-- The documents are JSON text (0001), so they are edited as jsonb and
-- written back as text.
UPDATE policies
SET settings = jsonb_set(settings::jsonb, '{authentication}', '{"secret_questions":{"questions":["What was the name of your first pet?","In which city were you born?","What was the name of your first school?","What is your favourite book?","What was the make of your first car?","What is your mother''s maiden name?"],"asked":3,"min_answer_length":3,"wrong_before_lock":5}}'::jsonb)::text
WHERE jsonb_typeof(settings::jsonb) = 'object' AND (settings::jsonb -> 'authentication') IS NULL;

-- Wrong secret answers in a row, and when they locked the answers (0: not
-- locked); only an operator unlocks (docs/lifecycle.md, "Secret questions").
ALTER TABLE users ADD COLUMN secret_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN secret_locked_at BIGINT NOT NULL DEFAULT 0;

-- Remote Self-Service sessions (/rss/): apart from browser sessions, so
-- that neither is ever taken for the other (docs/security.md).
CREATE TABLE rss_sessions (
    hash       BYTEA  NOT NULL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX rss_sessions_expires ON rss_sessions (expires_at);
CREATE INDEX rss_sessions_user ON rss_sessions (user_id);
