package sqlstore

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qInsertSession      = prepared(`INSERT INTO sessions (hash, user_id, csrf_token, created_at, expires_at, second_factor_at) VALUES (?, ?, ?, ?, ?, ?)`)
	qSessionByHash      = prepared(`SELECT hash, user_id, csrf_token, created_at, expires_at, second_factor_at FROM sessions WHERE hash = ?`)
	qDeleteSession      = prepared(`DELETE FROM sessions WHERE hash = ?`)
	qDeleteUserSessions = prepared(`DELETE FROM sessions WHERE user_id = ?`)
	// Remote Self-Service sessions go with the user's browser sessions
	// (migration 0019).
	qDeleteUserRSSSessions    = prepared(`DELETE FROM rss_sessions WHERE user_id = ?`)
	qDeleteExpiredRSSSessions = prepared(`DELETE FROM rss_sessions WHERE expires_at <= ?`)
	// A session is expired once its expiry time has been reached.
	qDeleteExpiredSessions = prepared(`DELETE FROM sessions WHERE expires_at <= ?`)

	qInsertLoginChallenge        = prepared(`INSERT INTO login_challenges (hash, user_id, mode, enrollment, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`)
	qLoginChallengeByHash        = prepared(`SELECT hash, user_id, mode, enrollment, created_at, expires_at FROM login_challenges WHERE hash = ?`)
	qDeleteLoginChallenge        = prepared(`DELETE FROM login_challenges WHERE hash = ?`)
	qDeleteUserLoginChallenges   = prepared(`DELETE FROM login_challenges WHERE user_id = ?`)
	qDeleteExpiredLoginChallenge = prepared(`DELETE FROM login_challenges WHERE expires_at <= ?`)
)

func (t sessionsTx) CreateSession(s *lanyard.Session) error {
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt, s.SecondFactorAt = normTime(s.CreatedAt), normTime(s.ExpiresAt), normTime(s.SecondFactorAt)
	_, err := t.exec(qInsertSession, blob(s.Hash), s.UserID, s.CSRFToken, micros(s.CreatedAt), micros(s.ExpiresAt), micros(s.SecondFactorAt))
	if err != nil {
		return t.writeErr(err, "session already exists", "session: user does not exist")
	}
	return nil
}

func (t sessionsTx) SessionByHash(hash []byte) (*lanyard.Session, error) {
	var s lanyard.Session
	var created, expires, factor int64
	err := t.row(qSessionByHash, blob(hash)).Scan(&s.Hash, &s.UserID, &s.CSRFToken, &created, &expires, &factor)
	if err != nil {
		return nil, t.readErr(err, notFound("session not found"))
	}
	s.Hash = bytesOut(s.Hash)
	s.CreatedAt, s.ExpiresAt, s.SecondFactorAt = fromMicros(created), fromMicros(expires), fromMicros(factor)
	return &s, nil
}

func (t sessionsTx) CreateLoginChallenge(c *lanyard.LoginChallenge) error {
	c.Hash, c.Enrollment = bytesOut(c.Hash), bytesOut(c.Enrollment)
	c.CreatedAt, c.ExpiresAt = normTime(c.CreatedAt), normTime(c.ExpiresAt)
	_, err := t.exec(qInsertLoginChallenge, blob(c.Hash), c.UserID, c.Mode, blob(c.Enrollment), micros(c.CreatedAt), micros(c.ExpiresAt))
	if err != nil {
		return t.writeErr(err, "login challenge already exists", "login challenge: user does not exist")
	}
	return nil
}

func (t sessionsTx) LoginChallengeByHash(hash []byte) (*lanyard.LoginChallenge, error) {
	var c lanyard.LoginChallenge
	var created, expires int64
	err := t.row(qLoginChallengeByHash, blob(hash)).Scan(&c.Hash, &c.UserID, &c.Mode, &c.Enrollment, &created, &expires)
	if err != nil {
		return nil, t.readErr(err, notFound("login challenge not found"))
	}
	c.Hash, c.Enrollment = bytesOut(c.Hash), bytesOut(c.Enrollment)
	c.CreatedAt, c.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &c, nil
}

func (t sessionsTx) DeleteLoginChallenge(hash []byte) error {
	res, err := t.exec(qDeleteLoginChallenge, blob(hash))
	return t.one(res, err, notFound("login challenge not found"), "", "")
}

func (t sessionsTx) DeleteSession(hash []byte) error {
	res, err := t.exec(qDeleteSession, blob(hash))
	return t.one(res, err, notFound("session not found"), "", "")
}

// DeleteExpiredSessions deletes the sessions whose ExpiresAt is at or
// before now and says how many there were.
func (t sessionsTx) DeleteExpiredSessions(now time.Time) (int, error) {
	total := 0
	for _, q := range []stmt{qDeleteExpiredSessions, qDeleteExpiredLoginChallenge, qDeleteExpiredRSSSessions} {
		n, err := t.affected(t.exec(q, micros(now)))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func (t sessionsTx) DeleteUserSessions(userID int64) (int, error) {
	n, err := t.affected(t.exec(qDeleteUserSessions, userID))
	if err != nil {
		return 0, err
	}
	m, err := t.affected(t.exec(qDeleteUserRSSSessions, userID))
	return n + m, err
}

func (t sessionsTx) DeleteUserLoginChallenges(userID int64) (int, error) {
	res, err := t.exec(qDeleteUserLoginChallenges, userID)
	return t.affected(res, err)
}
