-- Placeholder for migration 0034, which the scim branch adds: it keeps this
-- branch's migrations numbered without gaps. Delete this file when that
-- branch is merged.
SELECT 1;
