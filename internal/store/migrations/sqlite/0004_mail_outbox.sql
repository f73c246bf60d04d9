-- The e-mail outbox (issue #5): notifications are queued here in the
-- transaction that decides to send them and delivered by the worker of
-- internal/notify. Keep in step with postgres/0004_mail_outbox.sql.
--
-- recipients is a JSON list of addresses. content is the sealed message
-- (text body, optional HTML body, attachments; seal.Sealer, AAD
-- "mail-content"): bodies carry random PINs and signed documents, so they
-- are never stored in clear. subject stays readable for the console; the
-- PIN mail's subject is rendered without the PIN.
--
-- state: queued → sending → sent | failed. A claim sets sending and moves
-- next_attempt_at to the end of the claim's lease, so a message whose
-- worker died is claimed again once the lease is over. last_error is the
-- SMTP server's answer or the connection error, never the body.
CREATE TABLE mail_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    recipients      TEXT    NOT NULL DEFAULT '[]',
    subject         TEXT    NOT NULL DEFAULT '',
    content         BLOB    NOT NULL DEFAULT x'',
    size            INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER NOT NULL DEFAULT 0
) STRICT;
-- The worker's claim: due messages that wait or whose lease ran out.
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id) WHERE state IN ('queued', 'sending');
CREATE INDEX mail_outbox_state ON mail_outbox (state, id);
