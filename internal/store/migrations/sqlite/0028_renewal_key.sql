-- Update card contents (keep in step with postgres/0028_renewal_key.sql;
-- docs/lifecycle.md, "Update card contents").
--
-- templates.renewal_key ("Renewal key"): whether a card update renews the
-- certificate with a new key pair (new_key) or certifies the card's key
-- again (reuse_key). Templates saved before the setting get new_key, the
-- safe default: a renewal never keeps a key longer than it was meant to.
ALTER TABLE templates ADD COLUMN renewal_key TEXT NOT NULL DEFAULT 'new_key' CHECK (renewal_key IN ('new_key', 'reuse_key'));
