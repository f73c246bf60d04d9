-- Templates that certify only keys generated on a card (keep in step with
-- postgres/0010_card_keys_only.sql). A smart card logon certificate for a
-- key outside a card lets its holder log on as the user without the card,
-- so every existing template with the smart card logon purpose gets the
-- flag; administrators set it on others.
--
-- Templates carrying the ocsp_signing or any extended key usage are left
-- as they are: dropping the purpose could leave a template with no
-- extended key usage at all, which means every purpose. The CA refuses to
-- sign from them until an administrator edits the template.
ALTER TABLE templates ADD COLUMN card_keys_only INTEGER NOT NULL DEFAULT 0 CHECK (card_keys_only IN (0, 1));

UPDATE templates SET card_keys_only = 1 WHERE ext_key_usage LIKE '%"smartcard_logon"%';
