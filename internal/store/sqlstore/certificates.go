package sqlstore

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const certCols = `id, ca, serial, template, user_id, card_id, request_id, subject, not_before, not_after, status, source,
	key_sha256, der, revoked_at, revocation_reason, revocation_reason_name, created_at, updated_at, slot, held_at`

var (
	// CreateCertificate is the issuing hot path: one prepared insert.
	qInsertCert = prepared(`INSERT INTO certificates (ca, serial, template, user_id, card_id, request_id, subject, not_before, not_after,
		status, source, key_sha256, der, revoked_at, revocation_reason, revocation_reason_name, created_at, updated_at, slot, held_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateCert = prepared(`UPDATE certificates SET status = ?, card_id = ?, slot = ?, revoked_at = ?, revocation_reason = ?,
		revocation_reason_name = ?, updated_at = ?, held_at = ? WHERE id = ?`)
	qCertBySerial = prepared(`SELECT ` + certCols + ` FROM certificates WHERE ca = ? AND serial = ?`)
	qCertByID     = prepared(`SELECT ` + certCols + ` FROM certificates WHERE id = ?`)
	// The CRL's entries: the revoked certificates still valid (the
	// covering index certificates_crl: no row of the table is read) and
	// those on hold (the partial index certificates_held), as two index
	// lookups rather than one OR that would scan the CA's rows.
	qCRLEntries = prepared(`SELECT id, ` + crlCols + ` FROM certificates WHERE ca = ? AND status = ? AND not_after >= ?
		UNION ALL SELECT id, ` + crlCols + ` FROM certificates WHERE ca = ? AND held_at <> 0 AND status <> ? AND not_after >= ? ORDER BY id`)
)

const crlCols = `serial, status, revoked_at, revocation_reason, held_at`

func normCert(c *lanyard.Certificate) {
	c.DER = bytesOut(c.DER)
	c.NotBefore, c.NotAfter, c.RevokedAt = normTime(c.NotBefore), normTime(c.NotAfter), normTime(c.RevokedAt)
	c.CreatedAt, c.UpdatedAt, c.HeldAt = normTime(c.CreatedAt), normTime(c.UpdatedAt), normTime(c.HeldAt)
}

func (t certificatesTx) CreateCertificate(c *lanyard.Certificate) error {
	normCert(c)
	err := t.row(qInsertCert, c.CA, c.Serial, c.Template, ref(c.UserID), ref(c.CardID), ref(c.RequestID), c.Subject,
		micros(c.NotBefore), micros(c.NotAfter), string(c.Status), string(c.Source), c.KeySHA256, blob(c.DER),
		micros(c.RevokedAt), int64(c.Reason), c.ReasonName, micros(c.CreatedAt), micros(c.UpdatedAt), c.Slot, micros(c.HeldAt)).Scan(&c.ID)
	if err != nil {
		return t.writeErr(err,
			fmt.Sprintf("certificate %q of CA %q already exists", c.Serial, c.CA),
			fmt.Sprintf("certificate %q: user %d does not exist", c.Serial, c.UserID))
	}
	return nil
}

// UpdateCertificate writes the fields that change after issue: status,
// card and slot, revocation time and reason, hold, UpdatedAt.
func (t certificatesTx) UpdateCertificate(c *lanyard.Certificate) error {
	normCert(c)
	res, err := t.exec(qUpdateCert, string(c.Status), ref(c.CardID), c.Slot, micros(c.RevokedAt), int64(c.Reason), c.ReasonName,
		micros(c.UpdatedAt), micros(c.HeldAt), c.ID)
	return t.one(res, err, notFound("certificate %d not found", c.ID), "", "")
}

func (t certificatesTx) CertificateBySerial(ca, serial string) (*lanyard.Certificate, error) {
	c, err := scanCert(t.row(qCertBySerial, ca, serial))
	if err != nil {
		return nil, t.readErr(err, notFound("certificate %q of CA %q not found", serial, ca))
	}
	return c, nil
}

func (t certificatesTx) CertificateByID(id int64) (*lanyard.Certificate, error) {
	c, err := scanCert(t.row(qCertByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("certificate %d not found", id))
	}
	return c, nil
}

// ListCertificates returns the certificates matching f, oldest first.
func (t certificatesTx) ListCertificates(f lanyard.CertFilter) ([]*lanyard.Certificate, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + certCols + ` FROM certificates WHERE 1 = 1`)
	if f.CA != "" {
		q.WriteString(` AND ca = ?`)
		args = append(args, f.CA)
	}
	if f.UserID != 0 {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.UserID)
	}
	if f.CardID != 0 {
		q.WriteString(` AND card_id = ?`)
		args = append(args, f.CardID)
	}
	if f.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, string(f.Status))
	}
	q.WriteString(` ORDER BY id`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanCert)
}

// CRLEntries returns the CRL entries of ca still valid at validAt,
// oldest first. NotAfter is always set (from the certificate's DER), so
// no entry is left out for an unknown validity.
func (t certificatesTx) CRLEntries(ca string, validAt time.Time) ([]*lanyard.CRLEntry, error) {
	at := micros(validAt)
	rows, err := t.rows(qCRLEntries, ca, string(lanyard.CertRevoked), at, ca, string(lanyard.CertRevoked), at)
	return collect(t.txn, rows, err, scanCRLEntry)
}

func scanCRLEntry(r scanner) (*lanyard.CRLEntry, error) {
	var e lanyard.CRLEntry
	var id, revoked, reason, held int64
	var status string
	if err := r.Scan(&id, &e.Serial, &status, &revoked, &reason, &held); err != nil {
		return nil, err
	}
	e.Status, e.Reason = lanyard.CertStatus(status), lanyard.RevocationReason(reason)
	e.RevokedAt, e.HeldAt = fromMicros(revoked), fromMicros(held)
	return &e, nil
}

func scanCert(r scanner) (*lanyard.Certificate, error) {
	var c lanyard.Certificate
	var userID, cardID, requestID sql.NullInt64
	var status, source string
	var reason, notBefore, notAfter, revoked, created, updated, held int64
	if err := r.Scan(&c.ID, &c.CA, &c.Serial, &c.Template, &userID, &cardID, &requestID, &c.Subject, &notBefore, &notAfter,
		&status, &source, &c.KeySHA256, &c.DER, &revoked, &reason, &c.ReasonName, &created, &updated, &c.Slot, &held); err != nil {
		return nil, err
	}
	c.UserID, c.CardID, c.RequestID = refOut(userID), refOut(cardID), refOut(requestID)
	c.Status, c.Source, c.Reason = lanyard.CertStatus(status), lanyard.CertSource(source), lanyard.RevocationReason(reason)
	c.DER = bytesOut(c.DER)
	c.NotBefore, c.NotAfter, c.RevokedAt = fromMicros(notBefore), fromMicros(notAfter), fromMicros(revoked)
	c.CreatedAt, c.UpdatedAt, c.HeldAt = fromMicros(created), fromMicros(updated), fromMicros(held)
	return &c, nil
}

func (t certificatesTx) LockCertificate(id int64) error {
	return t.lockRow("certificates", id, notFound("certificate %d not found", id))
}
