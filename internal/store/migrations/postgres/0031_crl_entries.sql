-- The CRL's entries (keep in step with sqlite/0031_crl_entries.sql;
-- docs/architecture.md, "Revocation, CRL, OCSP"). Every revocation
-- re-signs its CA's CRL in its own transaction, from the CA's revoked
-- certificates still valid: this index is searched on (ca, status,
-- not_after) and includes every other column the CRL reads of them, so
-- the query can be an index-only scan, never a read of the certificates'
-- rows and their DER.
CREATE INDEX certificates_crl ON certificates (ca, status, not_after) INCLUDE (id, serial, revoked_at, revocation_reason, held_at);
