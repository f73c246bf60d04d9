-- Placeholder for migration 0033, which the dirsync branch adds: it keeps this
-- branch's migrations numbered without gaps. Delete this file when that
-- branch is merged.
SELECT 1;
