-- The CRL's entries (keep in step with postgres/0031_crl_entries.sql;
-- docs/architecture.md, "Revocation, CRL, OCSP"). Every revocation
-- re-signs its CA's CRL in its own transaction, from the CA's revoked
-- certificates still valid: this index holds every column the CRL reads
-- of them (the rowid is in every index), so the query is a range of the
-- index alone, never a read of the certificates' rows and their DER.
CREATE INDEX certificates_crl ON certificates (ca, status, not_after, serial, revoked_at, revocation_reason, held_at);
