-- The outbox's claims are fenced (keep in step with the other engine's
-- 0039_mail_claim.sql; lanyard.MailStore ClaimMail, RenewMailClaim):
-- each claim writes a random token, and a worker renews its lease and
-- records an outcome only while the row still carries its token, so a
-- worker whose lease ran out during a slow delivery (another worker has
-- claimed the message since) neither sends it nor records it.
ALTER TABLE mail_outbox ADD COLUMN claim TEXT NOT NULL DEFAULT '';
