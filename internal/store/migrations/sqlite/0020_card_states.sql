-- Disable, enable, revoke with a reason and withdraw (keep in step with
-- postgres/0020_card_states.sql; docs/lifecycle.md).
--
-- templates.revoke_on_disable: "Put certificate on hold when the card is
-- disabled". Off for every existing template: no certificate already
-- issued changes what a disable does to it without an administrator
-- choosing so. The console and the CLI turn it on for new templates.
ALTER TABLE templates ADD COLUMN revoke_on_disable INTEGER NOT NULL DEFAULT 0 CHECK (revoke_on_disable IN (0, 1));

-- certificates.held_at: when the certificate was put on hold
-- (certificateHold, RFC 5280 5.3.1); 0 when it is not. The CRL lists the
-- revoked and the held certificates of a CA, so the held ones have an
-- index of their own (few rows: only those of disabled cards).
ALTER TABLE certificates ADD COLUMN held_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX certificates_held ON certificates (ca) WHERE held_at <> 0;

-- cards.revocation_reason: why a revoked card was revoked (lost,
-- compromised, damaged, superseded, withdrawn); '' otherwise.
ALTER TABLE cards ADD COLUMN revocation_reason TEXT NOT NULL DEFAULT '';
