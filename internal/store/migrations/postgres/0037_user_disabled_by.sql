-- Who disabled an account a directory or SCIM client keeps (keep in step
-- with the other engine's 0037_user_disabled_by.sql; lanyard.User
-- DisabledBy): 'source' when its source did (only the source enables it
-- again), 'admin' when staff did in Lanyard (a sync or push saying
-- "enabled" leaves it disabled). Accounts disabled before this migration
-- were disabled by whoever kept them: the source for external accounts.
ALTER TABLE users ADD COLUMN disabled_by TEXT NOT NULL DEFAULT '';
UPDATE users SET disabled_by = 'source' WHERE disabled AND source IN ('ldap', 'scim');
