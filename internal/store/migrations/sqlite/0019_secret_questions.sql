-- Secret questions as policy, the wrong-answer lock and Remote
-- Self-Service sessions (keep in step with postgres/0019_secret_questions.sql).
--
-- Policies saved before Authentication existed get the defaults a new
-- policy has (policy.Defaults): the six questions Lanyard offered until
-- now, three asked, answers of three characters or more, locked after five
-- wrong answers in a row. A policy that already has the section keeps it.
UPDATE policies
SET settings = json_set(settings, '$.authentication', json('{"secret_questions":{"questions":["What was the name of your first pet?","In which city were you born?","What was the name of your first school?","What is your favourite book?","What was the make of your first car?","What is your mother''s maiden name?"],"asked":3,"min_answer_length":3,"wrong_before_lock":5}}'))
WHERE json_valid(settings) AND json_type(settings, '$.authentication') IS NULL;

-- Wrong secret answers in a row, and when they locked the answers (0: not
-- locked); only an operator unlocks (docs/lifecycle.md, "Secret questions").
ALTER TABLE users ADD COLUMN secret_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN secret_locked_at INTEGER NOT NULL DEFAULT 0;

-- Remote Self-Service sessions (/rss/): apart from browser sessions, so
-- that neither is ever taken for the other (docs/security.md).
CREATE TABLE rss_sessions (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX rss_sessions_expires ON rss_sessions (expires_at);
CREATE INDEX rss_sessions_user ON rss_sessions (user_id);
