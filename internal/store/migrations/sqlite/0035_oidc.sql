-- OpenID Connect single sign-on (keep in step with the other engine's
-- 0035_oidc.sql; docs/security.md, "Single sign-on"). oidc_providers are
-- the providers administrators connect: client_secret is sealed under the
-- master key (empty for a public client that relies on PKCE alone), the
-- list columns are JSON arrays. oidc_logins are sign-ins on their way to
-- the provider and back: keyed by SHA-256 of the state parameter, bound
-- to the browser by SHA-256 of a cookie's secret, with the nonce and the
-- sealed PKCE code verifier; a callback deletes its row (single use), and
-- rows expire after ten minutes.
CREATE TABLE oidc_providers (
    id              INTEGER NOT NULL PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    display_name    TEXT    NOT NULL,
    issuer          TEXT    NOT NULL,
    client_id       TEXT    NOT NULL,
    client_secret   BLOB    NOT NULL,
    scopes          TEXT    NOT NULL,
    claim           TEXT    NOT NULL,
    match_attribute TEXT    NOT NULL CHECK (match_attribute IN ('upn', 'email', 'login')),
    jit             INTEGER NOT NULL,
    amr             TEXT    NOT NULL,
    acr             TEXT    NOT NULL,
    self_service    INTEGER NOT NULL,
    console         INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE oidc_logins (
    state_hash    BLOB    NOT NULL PRIMARY KEY,
    provider_id   INTEGER NOT NULL REFERENCES oidc_providers (id) ON DELETE CASCADE,
    browser_hash  BLOB    NOT NULL,
    nonce         TEXT    NOT NULL,
    verifier      BLOB    NOT NULL,
    next          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX oidc_logins_expires ON oidc_logins (expires_at);
CREATE INDEX oidc_logins_provider ON oidc_logins (provider_id);

-- A single sign-on may match accounts by e-mail address, ignoring case.
CREATE INDEX users_email_lower ON users (lower(email)) WHERE email <> '';
