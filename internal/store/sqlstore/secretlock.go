package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The wrong-answer count and lock are users columns (migration 0019);
// Remote Self-Service sessions have their own table there.
var (
	qSecretLock    = prepared(`SELECT secret_failures, secret_locked_at FROM users WHERE id = ?`)
	qSetSecretLock = prepared(`UPDATE users SET secret_failures = ?, secret_locked_at = ? WHERE id = ?`)
	// Both engines read the old row on the right of SET, so the lock
	// compares the count before this failure.
	qAddSecretFailure = prepared(`UPDATE users SET secret_failures = secret_failures + 1,
		secret_locked_at = CASE WHEN secret_locked_at = 0 AND secret_failures + 1 >= ? THEN ? ELSE secret_locked_at END
		WHERE id = ? RETURNING secret_failures, secret_locked_at`)
	// The lock is lifted only if it is still the one the returned
	// attempt set (a zero lockedAt never matches a lock).
	qReturnSecretFailure = prepared(`UPDATE users SET secret_failures = CASE WHEN secret_failures > 0 THEN secret_failures - 1 ELSE 0 END,
		secret_locked_at = CASE WHEN secret_locked_at <> 0 AND secret_locked_at = ? THEN 0 ELSE secret_locked_at END
		WHERE id = ? RETURNING secret_failures, secret_locked_at`)
	qInsertRSSSession = prepared(`INSERT INTO rss_sessions (hash, user_id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`)
	qRSSSessionByHash = prepared(`SELECT hash, user_id, csrf_token, created_at, expires_at FROM rss_sessions WHERE hash = ?`)
	qDeleteRSSSession = prepared(`DELETE FROM rss_sessions WHERE hash = ?`)
)

// SecretLock returns userID's wrong-answer count and lock.
func (t secretsTx) SecretLock(userID int64) (lanyard.SecretLock, error) {
	var l lanyard.SecretLock
	var locked int64
	if err := t.row(qSecretLock, userID).Scan(&l.Failures, &locked); err != nil {
		return l, t.readErr(err, notFound("user %d not found", userID))
	}
	l.LockedAt = fromMicros(locked)
	return l, nil
}

// SetSecretLock replaces userID's wrong-answer count and lock.
func (t secretsTx) SetSecretLock(userID int64, l lanyard.SecretLock) error {
	res, err := t.exec(qSetSecretLock, l.Failures, micros(normTime(l.LockedAt)), userID)
	return t.one(res, err, notFound("user %d not found", userID), "", "")
}

// AddSecretFailure counts a wrong answer and locks at lockAt failures.
func (t secretsTx) AddSecretFailure(userID int64, lockAt int, now time.Time) (lanyard.SecretLock, error) {
	var l lanyard.SecretLock
	var locked int64
	if err := t.row(qAddSecretFailure, lockAt, micros(normTime(now)), userID).Scan(&l.Failures, &locked); err != nil {
		return l, t.readErr(err, notFound("user %d not found", userID))
	}
	l.LockedAt = fromMicros(locked)
	return l, nil
}

// ReturnSecretFailure takes back a wrong-answer count, and the lock set
// at lockedAt.
func (t secretsTx) ReturnSecretFailure(userID int64, lockedAt time.Time) (lanyard.SecretLock, error) {
	var l lanyard.SecretLock
	var locked int64
	if err := t.row(qReturnSecretFailure, micros(normTime(lockedAt)), userID).Scan(&l.Failures, &locked); err != nil {
		return l, t.readErr(err, notFound("user %d not found", userID))
	}
	l.LockedAt = fromMicros(locked)
	return l, nil
}

// CreateRSSSession stores a Remote Self-Service session.
func (t secretsTx) CreateRSSSession(s *lanyard.Session) error {
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt = normTime(s.CreatedAt), normTime(s.ExpiresAt)
	_, err := t.exec(qInsertRSSSession, blob(s.Hash), s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "session already exists", "session: user does not exist")
	}
	return nil
}

// RSSSessionByHash returns the Remote Self-Service session with hash.
func (t secretsTx) RSSSessionByHash(hash []byte) (*lanyard.Session, error) {
	var s lanyard.Session
	var created, expires int64
	err := t.row(qRSSSessionByHash, blob(hash)).Scan(&s.Hash, &s.UserID, &s.CSRFToken, &created, &expires)
	if err != nil {
		return nil, t.readErr(err, notFound("session not found"))
	}
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &s, nil
}

// DeleteRSSSession ends a Remote Self-Service session.
func (t secretsTx) DeleteRSSSession(hash []byte) error {
	res, err := t.exec(qDeleteRSSSession, blob(hash))
	return t.one(res, err, notFound("session not found"), "", "")
}

// DeleteUserRSSSessions ends userID's Remote Self-Service sessions.
func (t secretsTx) DeleteUserRSSSessions(userID int64) (int, error) {
	return t.affected(t.exec(qDeleteUserRSSSessions, userID))
}
