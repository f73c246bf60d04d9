-- The card slot of each certificate (keep in step with
-- postgres/0008_certificate_slot.sql). The slot was looked up through the
-- certificate's template, whose slot an administrator may change or which
-- may be deleted after the issue: Revoke and clear card then deleted the
-- wrong slot and left the certificate on the card. Certificates already on
-- cards get their template's slot as it is now (9a when unset), the best
-- that is known.
ALTER TABLE certificates ADD COLUMN slot TEXT NOT NULL DEFAULT '';

UPDATE certificates
SET slot = COALESCE((SELECT CASE WHEN t.slot = '' THEN '9a' ELSE t.slot END FROM templates t WHERE t.name = certificates.template), '')
WHERE card_id IS NOT NULL AND source = 'managed';
