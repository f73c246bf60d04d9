package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const tokenCols = `id, user_id, name, prefix, hash, roles, expires_at, created_at, last_used_at, revoked`

var (
	qInsertToken = prepared(`INSERT INTO api_tokens (user_id, name, prefix, hash, roles, expires_at, created_at, last_used_at, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	// TokenByHash runs on every API request.
	qTokenByHash      = prepared(`SELECT ` + tokenCols + ` FROM api_tokens WHERE hash = ?`)
	qTokenByID        = prepared(`SELECT ` + tokenCols + ` FROM api_tokens WHERE id = ?`)
	qListTokens       = prepared(`SELECT ` + tokenCols + ` FROM api_tokens ORDER BY id`)
	qListTokensByUser = prepared(`SELECT ` + tokenCols + ` FROM api_tokens WHERE user_id = ? ORDER BY id`)
	qRevokeToken      = prepared(`UPDATE api_tokens SET revoked = ? WHERE id = ?`)
	qTouchToken       = prepared(`UPDATE api_tokens SET last_used_at = ? WHERE id = ?`)
	qRevokeUserTokens = prepared(`UPDATE api_tokens SET revoked = ? WHERE user_id = ? AND revoked = ?`)
	// The same statement as the end of migration 0011_staff_mfa.sql, with
	// the lifetime as a parameter (microseconds).
	qClipTokenLifetimes = prepared(`UPDATE api_tokens SET expires_at = created_at + ? WHERE expires_at > created_at + ?`)
)

func (t tokensTx) CreateToken(k *lanyard.APIToken) error {
	k.Roles = nonNil(k.Roles)
	k.Hash = bytesOut(k.Hash)
	k.ExpiresAt, k.CreatedAt, k.LastUsedAt = normTime(k.ExpiresAt), normTime(k.CreatedAt), normTime(k.LastUsedAt)
	roles, err := jsonList(k.Roles)
	if err != nil {
		return err
	}
	err = t.row(qInsertToken, k.UserID, k.Name, k.Prefix, blob(k.Hash), roles,
		micros(k.ExpiresAt), micros(k.CreatedAt), micros(k.LastUsedAt), k.Revoked).Scan(&k.ID)
	if err != nil {
		return t.writeErr(err, "token already exists", "token "+quote(k.Name)+": user does not exist")
	}
	return nil
}

func (t tokensTx) TokenByHash(hash []byte) (*lanyard.APIToken, error) {
	k, err := scanToken(t.row(qTokenByHash, blob(hash)))
	if err != nil {
		return nil, t.readErr(err, notFound("token not found"))
	}
	return k, nil
}

func (t tokensTx) TokenByID(id int64) (*lanyard.APIToken, error) {
	k, err := scanToken(t.row(qTokenByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("token %d not found", id))
	}
	return k, nil
}

// ListTokens returns the tokens of userID (0: of everyone), oldest first.
func (t tokensTx) ListTokens(userID int64) ([]*lanyard.APIToken, error) {
	if userID == 0 {
		rows, err := t.rows(qListTokens)
		return collect(t.txn, rows, err, scanToken)
	}
	rows, err := t.rows(qListTokensByUser, userID)
	return collect(t.txn, rows, err, scanToken)
}

func (t tokensTx) RevokeToken(id int64) error {
	res, err := t.exec(qRevokeToken, true, id)
	return t.one(res, err, notFound("token %d not found", id), "", "")
}

func (t tokensTx) RevokeUserTokens(userID int64) (int, error) {
	res, err := t.exec(qRevokeUserTokens, true, userID, false)
	return t.affected(res, err)
}

func (t tokensTx) ClipTokenLifetimes(max time.Duration) (int, error) {
	us := max.Microseconds()
	res, err := t.exec(qClipTokenLifetimes, us, us)
	return t.affected(res, err)
}

func (t tokensTx) TouchToken(id int64, at time.Time) error {
	res, err := t.exec(qTouchToken, micros(at), id)
	return t.one(res, err, notFound("token %d not found", id), "", "")
}

func scanToken(r scanner) (*lanyard.APIToken, error) {
	var k lanyard.APIToken
	var roles string
	var expires, created, used int64
	if err := r.Scan(&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Hash, &roles, &expires, &created, &used, &k.Revoked); err != nil {
		return nil, err
	}
	var err error
	if k.Roles, err = listOut[lanyard.Roles](roles, "api_tokens.roles"); err != nil {
		return nil, err
	}
	k.Hash = bytesOut(k.Hash)
	k.ExpiresAt, k.CreatedAt, k.LastUsedAt = fromMicros(expires), fromMicros(created), fromMicros(used)
	return &k, nil
}
