package sqlstore

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	qTOTPEnrollment = prepared(`SELECT user_id, secret, confirmed_at, last_step, created_at FROM totp_enrollments WHERE user_id = ?`)
	// The upsert replaces only an unconfirmed enrollment: a confirmed one
	// leaves the row untouched and no row affected.
	qPutTOTP = prepared(`INSERT INTO totp_enrollments (user_id, secret, confirmed_at, last_step, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, confirmed_at = excluded.confirmed_at,
			last_step = excluded.last_step, created_at = excluded.created_at
		WHERE totp_enrollments.confirmed_at = 0`)
	qUpdateTOTP = prepared(`UPDATE totp_enrollments SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND secret = ? AND last_step = ?`)
	qDeleteTOTP = prepared(`DELETE FROM totp_enrollments WHERE user_id = ?`)
)

// TOTPEnrollment returns userID's enrollment.
func (t totpTx) TOTPEnrollment(userID int64) (*lanyard.TOTPEnrollment, error) {
	var e lanyard.TOTPEnrollment
	var confirmed, created int64
	if err := t.row(qTOTPEnrollment, userID).Scan(&e.UserID, &e.SealedSecret, &confirmed, &e.LastStep, &created); err != nil {
		return nil, t.readErr(err, notFound("no authenticator app is enrolled"))
	}
	e.SealedSecret = bytesOut(e.SealedSecret)
	e.ConfirmedAt, e.CreatedAt = fromMicros(confirmed), fromMicros(created)
	return &e, nil
}

// PutTOTPEnrollment creates or replaces the user's unconfirmed enrollment.
func (t totpTx) PutTOTPEnrollment(e *lanyard.TOTPEnrollment) error {
	e.ConfirmedAt, e.CreatedAt = normTime(e.ConfirmedAt), normTime(e.CreatedAt)
	res, err := t.exec(qPutTOTP, e.UserID, blob(e.SealedSecret), micros(e.ConfirmedAt), e.LastStep, micros(e.CreatedAt))
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "an authenticator app is already enrolled; remove it first"), "", "user does not exist")
}

// UpdateTOTPEnrollment records a confirmation or a used time step, if
// nothing changed the enrollment since it was read.
func (t totpTx) UpdateTOTPEnrollment(e *lanyard.TOTPEnrollment, prevStep int64) error {
	e.ConfirmedAt = normTime(e.ConfirmedAt)
	res, err := t.exec(qUpdateTOTP, micros(e.ConfirmedAt), e.LastStep, e.UserID, blob(e.SealedSecret), prevStep)
	return t.one(res, err, lanyard.Errorf(lanyard.EConflict, "the authenticator app changed meanwhile or the code was just used; try again with a new code"), "", "")
}

// DeleteTOTPEnrollment removes userID's enrollment.
func (t totpTx) DeleteTOTPEnrollment(userID int64) error {
	res, err := t.exec(qDeleteTOTP, userID)
	return t.one(res, err, notFound("no authenticator app is enrolled"), "", "")
}
