package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const oidcProviderCols = `id, name, display_name, issuer, client_id, client_secret, scopes, claim, match_attribute, jit, amr, acr, self_service, console, created_at, updated_at`

var (
	qInsertOIDCProvider = prepared(`INSERT INTO oidc_providers (name, display_name, issuer, client_id, client_secret, scopes, claim, match_attribute, jit, amr, acr,
		self_service, console, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateOIDCProvider = prepared(`UPDATE oidc_providers SET name = ?, display_name = ?, issuer = ?, client_id = ?, client_secret = ?, scopes = ?, claim = ?,
		match_attribute = ?, jit = ?, amr = ?, acr = ?, self_service = ?, console = ?, updated_at = ? WHERE id = ?`)
	qOIDCProviderByID   = prepared(`SELECT ` + oidcProviderCols + ` FROM oidc_providers WHERE id = ?`)
	qOIDCProviderByName = prepared(`SELECT ` + oidcProviderCols + ` FROM oidc_providers WHERE name = ?`)
	qListOIDCProviders  = prepared(`SELECT ` + oidcProviderCols + ` FROM oidc_providers ORDER BY name`)
	qDeleteOIDCProvider = prepared(`DELETE FROM oidc_providers WHERE id = ?`)
	// The provider's sign-ins go with it (ON DELETE CASCADE needs
	// SQLite's foreign keys on, which the store sets; deleting them
	// explicitly keeps both engines alike either way).
	qDeleteProviderOIDCLogins = prepared(`DELETE FROM oidc_logins WHERE provider_id = ?`)

	qInsertOIDCLogin = prepared(`INSERT INTO oidc_logins (state_hash, provider_id, browser_hash, nonce, verifier, next, client, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qCountOIDCLogins         = prepared(`SELECT count(*) FROM oidc_logins WHERE client = ? AND expires_at > ?`)
	qCountProviderOIDCLogins = prepared(`SELECT count(*) FROM oidc_logins WHERE provider_id = ? AND expires_at > ?`)
	// DELETE … RETURNING takes the row in one statement: of two
	// callbacks with the same state only one gets it (single use).
	qTakeOIDCLogin = prepared(`DELETE FROM oidc_logins WHERE state_hash = ?
		RETURNING state_hash, provider_id, browser_hash, nonce, verifier, next, client, created_at, expires_at`)
	qDeleteExpiredOIDCLogins = prepared(`DELETE FROM oidc_logins WHERE expires_at <= ?`)

	qOIDCBinding    = prepared(`SELECT subject FROM oidc_bindings WHERE user_id = ?`)
	qSetOIDCBinding = prepared(`INSERT INTO oidc_bindings (user_id, subject, created_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET subject = excluded.subject, created_at = excluded.created_at`)
	// A binding holds only while the values a provider claim is matched
	// with stay and the account stays on its side of staff: UpdateUser
	// deletes it when the login, e-mail or UPN changes or an account
	// without a staff role gets one (the last parameter is 1 then; roles
	// are written by jsonList, so no staff role is exactly [] or
	// ["user"]). A staff account binds afresh by UPN only.
	qUnbindChangedUser = prepared(`DELETE FROM oidc_bindings WHERE user_id = ? AND EXISTS
		(SELECT 1 FROM users WHERE id = ? AND (login <> ? OR email <> ? OR upn <> ? OR (? = 1 AND roles IN ('[]', '["user"]'))))`)
)

// normOIDCProvider makes p what a read will return.
func normOIDCProvider(p *lanyard.OIDCProvider) {
	p.SealedSecret = bytesOut(p.SealedSecret)
	p.Scopes, p.AMR, p.ACR = nonNil(p.Scopes), nonNil(p.AMR), nonNil(p.ACR)
	p.CreatedAt, p.UpdatedAt = normTime(p.CreatedAt), normTime(p.UpdatedAt)
}

// oidcProviderLists encodes p's list columns.
func oidcProviderLists(p *lanyard.OIDCProvider) (scopes, amr, acr string, err error) {
	if scopes, err = jsonList(p.Scopes); err != nil {
		return
	}
	if amr, err = jsonList(p.AMR); err != nil {
		return
	}
	acr, err = jsonList(p.ACR)
	return
}

func (t oidcTx) CreateOIDCProvider(p *lanyard.OIDCProvider) error {
	normOIDCProvider(p)
	scopes, amr, acr, err := oidcProviderLists(p)
	if err != nil {
		return err
	}
	err = t.row(qInsertOIDCProvider, p.Name, p.DisplayName, p.Issuer, p.ClientID, blob(p.SealedSecret), scopes, p.Claim, string(p.MatchAttribute),
		p.JIT, amr, acr, p.SelfService, p.Console, micros(p.CreatedAt), micros(p.UpdatedAt)).Scan(&p.ID)
	if err != nil {
		return t.writeErr(err, "OIDC provider "+quote(p.Name)+" already exists", "")
	}
	return nil
}

func (t oidcTx) UpdateOIDCProvider(p *lanyard.OIDCProvider) error {
	normOIDCProvider(p)
	scopes, amr, acr, err := oidcProviderLists(p)
	if err != nil {
		return err
	}
	res, err := t.exec(qUpdateOIDCProvider, p.Name, p.DisplayName, p.Issuer, p.ClientID, blob(p.SealedSecret), scopes, p.Claim, string(p.MatchAttribute),
		p.JIT, amr, acr, p.SelfService, p.Console, micros(p.UpdatedAt), p.ID)
	return t.one(res, err, notFound("OIDC provider %d not found", p.ID), "OIDC provider "+quote(p.Name)+" already exists", "")
}

func (t oidcTx) OIDCProviderByID(id int64) (*lanyard.OIDCProvider, error) {
	p, err := scanOIDCProvider(t.row(qOIDCProviderByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("OIDC provider %d not found", id))
	}
	return p, nil
}

func (t oidcTx) OIDCProviderByName(name string) (*lanyard.OIDCProvider, error) {
	p, err := scanOIDCProvider(t.row(qOIDCProviderByName, name))
	if err != nil {
		return nil, t.readErr(err, notFound("OIDC provider %q not found", name))
	}
	return p, nil
}

func (t oidcTx) ListOIDCProviders() ([]*lanyard.OIDCProvider, error) {
	rows, err := t.rows(qListOIDCProviders)
	return collect(t.txn, rows, err, scanOIDCProvider)
}

func (t oidcTx) DeleteOIDCProvider(id int64) error {
	if _, err := t.affected(t.exec(qDeleteProviderOIDCLogins, id)); err != nil {
		return err
	}
	res, err := t.exec(qDeleteOIDCProvider, id)
	return t.one(res, err, notFound("OIDC provider %d not found", id), "", "")
}

func scanOIDCProvider(r scanner) (*lanyard.OIDCProvider, error) {
	var p lanyard.OIDCProvider
	var match, scopes, amr, acr string
	var created, updated int64
	if err := r.Scan(&p.ID, &p.Name, &p.DisplayName, &p.Issuer, &p.ClientID, &p.SealedSecret, &scopes, &p.Claim, &match, &p.JIT, &amr, &acr,
		&p.SelfService, &p.Console, &created, &updated); err != nil {
		return nil, err
	}
	p.MatchAttribute = lanyard.OIDCMatch(match)
	p.SealedSecret = bytesOut(p.SealedSecret)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	var err error
	if p.Scopes, err = listOut[[]string](scopes, "oidc_providers.scopes"); err != nil {
		return nil, err
	}
	if p.AMR, err = listOut[[]string](amr, "oidc_providers.amr"); err != nil {
		return nil, err
	}
	if p.ACR, err = listOut[[]string](acr, "oidc_providers.acr"); err != nil {
		return nil, err
	}
	return &p, nil
}

func (t oidcTx) CreateOIDCLogin(l *lanyard.OIDCLogin) error {
	l.StateHash, l.BrowserHash, l.SealedVerifier = bytesOut(l.StateHash), bytesOut(l.BrowserHash), bytesOut(l.SealedVerifier)
	l.CreatedAt, l.ExpiresAt = normTime(l.CreatedAt), normTime(l.ExpiresAt)
	_, err := t.exec(qInsertOIDCLogin, blob(l.StateHash), l.ProviderID, blob(l.BrowserHash), l.Nonce, blob(l.SealedVerifier), l.Next, l.Client,
		micros(l.CreatedAt), micros(l.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "OIDC sign-in already exists", "OIDC sign-in: provider does not exist")
	}
	return nil
}

func (t oidcTx) TakeOIDCLogin(stateHash []byte) (*lanyard.OIDCLogin, error) {
	var l lanyard.OIDCLogin
	var created, expires int64
	err := t.row(qTakeOIDCLogin, blob(stateHash)).Scan(&l.StateHash, &l.ProviderID, &l.BrowserHash, &l.Nonce, &l.SealedVerifier, &l.Next, &l.Client, &created, &expires)
	if err != nil {
		return nil, t.readErr(err, notFound("OIDC sign-in not found"))
	}
	l.StateHash, l.BrowserHash, l.SealedVerifier = bytesOut(l.StateHash), bytesOut(l.BrowserHash), bytesOut(l.SealedVerifier)
	l.CreatedAt, l.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &l, nil
}

func (t oidcTx) DeleteExpiredOIDCLogins(now time.Time) (int, error) {
	return t.affected(t.exec(qDeleteExpiredOIDCLogins, micros(now)))
}

func (t oidcTx) CountOIDCLogins(client string, now time.Time) (int, error) {
	var n int
	if err := t.row(qCountOIDCLogins, client, micros(now)).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func (t oidcTx) CountProviderOIDCLogins(providerID int64, now time.Time) (int, error) {
	var n int
	if err := t.row(qCountProviderOIDCLogins, providerID, micros(now)).Scan(&n); err != nil {
		return 0, t.readErr(err, nil)
	}
	return n, nil
}

func (t oidcTx) LockOIDCLogins() error {
	if t.failed != nil {
		return t.aborted()
	}
	if t.d.OIDCLoginLock == "" {
		return nil
	}
	if _, err := t.tx.ExecContext(t.ctx, t.d.OIDCLoginLock); err != nil {
		return t.fail(t.asLanyard(err))
	}
	return nil
}

func (t oidcTx) OIDCBinding(userID int64) (string, error) {
	var sub string
	err := t.row(qOIDCBinding, userID).Scan(&sub)
	if err != nil {
		return "", t.readErr(err, notFound("user %d has no single sign-on binding", userID))
	}
	return sub, nil
}

func (t oidcTx) SetOIDCBinding(userID int64, subject string, at time.Time) error {
	_, err := t.exec(qSetOIDCBinding, userID, subject, micros(normTime(at)))
	if err != nil {
		return t.writeErr(err, "", "single sign-on binding: user does not exist")
	}
	return nil
}
