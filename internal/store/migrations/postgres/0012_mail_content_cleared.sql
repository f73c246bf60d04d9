-- Secrets kept no longer than needed (issue 13): the worker of
-- internal/notify now empties a message's sealed body once it is sent,
-- and once a message carrying a PIN, an AirCard connection code or a
-- document fails for good; the metadata (recipients, kind, subject,
-- times, state) stays. This empties the bodies kept so far by the same
-- rule. Keep in step with sqlite/0012_mail_content_cleared.sql.
UPDATE mail_outbox SET content = ''::bytea
WHERE state = 'sent'
   OR (state = 'failed' AND kind IN ('random_pin', 'aircard_code', 'document_uploaded'));
