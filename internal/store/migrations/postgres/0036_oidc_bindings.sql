-- Single sign-on hardening (keep in step with the other engine's
-- 0036_oidc_bindings.sql; docs/security.md, "Single sign-on").
-- oidc_logins.client is the throttle key of the address that began a
-- sign-in: Lanyard refuses a new one from an address with too many
-- under way. oidc_bindings ties an account to the provider subject
-- (issuer#sub) of its first successful sign-in at a provider: a later
-- sign-in from another subject is refused. The store deletes a binding
-- when the account's login, e-mail or UPN (the values a provider claim
-- is matched with) changes or it is made staff, so the next sign-in
-- binds afresh.
ALTER TABLE oidc_logins ADD COLUMN client TEXT NOT NULL DEFAULT '';
CREATE INDEX oidc_logins_client ON oidc_logins (client, expires_at);

CREATE TABLE oidc_bindings (
    user_id    BIGINT  NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    subject    TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
