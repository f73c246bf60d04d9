package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qInsertSession      = prepared(`INSERT INTO sessions (hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`)
	qSessionByHash      = prepared(`SELECT hash, user_id, csrf_token, created_at, expires_at FROM sessions WHERE hash = ?`)
	qDeleteSession      = prepared(`DELETE FROM sessions WHERE hash = ?`)
	qDeleteUserSessions = prepared(`DELETE FROM sessions WHERE user_id = ?`)
	// A session is expired once its expiry time has been reached.
	qDeleteExpiredSessions = prepared(`DELETE FROM sessions WHERE expires_at <= ?`)
)

func (t *txn) CreateSession(s *lanyard.Session) error {
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt = normTime(s.CreatedAt), normTime(s.ExpiresAt)
	_, err := t.exec(qInsertSession, blob(s.Hash), s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "session already exists", "session: user does not exist")
	}
	return nil
}

func (t *txn) SessionByHash(hash []byte) (*lanyard.Session, error) {
	var s lanyard.Session
	var created, expires int64
	err := t.row(qSessionByHash, blob(hash)).Scan(&s.Hash, &s.UserID, &s.CSRFToken, &created, &expires)
	if err != nil {
		return nil, t.readErr(err, notFound("session not found"))
	}
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &s, nil
}

func (t *txn) DeleteSession(hash []byte) error {
	res, err := t.exec(qDeleteSession, blob(hash))
	return t.one(res, err, notFound("session not found"), "", "")
}

// DeleteExpiredSessions deletes the sessions whose ExpiresAt is at or
// before now and says how many there were.
func (t *txn) DeleteExpiredSessions(now time.Time) (int, error) {
	res, err := t.exec(qDeleteExpiredSessions, micros(now))
	return t.affected(res, err)
}

func (t *txn) DeleteUserSessions(userID int64) (int, error) {
	res, err := t.exec(qDeleteUserSessions, userID)
	return t.affected(res, err)
}
