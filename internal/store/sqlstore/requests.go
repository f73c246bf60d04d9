package sqlstore

import (
	"database/sql"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const requestCols = `id, ca, template, user_id, requested_by, public_key, csr, key_sha256, subject, status, certificate_id,
	decided_by, comment, created_at, decided_at, operation_id`

var (
	qInsertRequest = prepared(`INSERT INTO cert_requests (ca, template, user_id, requested_by, public_key, csr, key_sha256, subject, status,
		certificate_id, decided_by, comment, created_at, decided_at, operation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	// The status condition makes a decision a compare-and-set: of two CA
	// managers deciding at once (two replicas, READ COMMITTED), one wins
	// and the other gets EConflict instead of deciding twice.
	qUpdateRequest = prepared(`UPDATE cert_requests SET status = ?, certificate_id = ?, decided_by = ?, comment = ?, decided_at = ?
		WHERE id = ? AND status = 'pending'`)
	qRequestByID        = prepared(`SELECT ` + requestCols + ` FROM cert_requests WHERE id = ?`)
	qListRequests       = prepared(`SELECT ` + requestCols + ` FROM cert_requests ORDER BY id`)
	qListRequestsStatus = prepared(`SELECT ` + requestCols + ` FROM cert_requests WHERE status = ? ORDER BY id`)
)

const requestMissing = "certificate request refers to a user or certificate that does not exist"

func normRequest(r *lanyard.CertRequest) {
	r.PublicKey, r.CSR = bytesOut(r.PublicKey), bytesOut(r.CSR)
	r.CreatedAt, r.DecidedAt = normTime(r.CreatedAt), normTime(r.DecidedAt)
}

func (t requestsTx) CreateRequest(r *lanyard.CertRequest) error {
	normRequest(r)
	err := t.row(qInsertRequest, r.CA, r.Template, r.UserID, ref(r.RequestedBy), blob(r.PublicKey), blob(r.CSR), r.KeySHA256,
		r.Subject, string(r.Status), ref(r.CertificateID), ref(r.DecidedBy), r.Comment, micros(r.CreatedAt), micros(r.DecidedAt),
		ref(r.OperationID)).Scan(&r.ID)
	if err != nil {
		return t.writeErr(err, "certificate request already exists", requestMissing)
	}
	return nil
}

// UpdateRequest writes the decision on a pending request: status,
// certificate, decided by, comment and time. A request that is no longer
// pending yields EConflict.
func (t requestsTx) UpdateRequest(r *lanyard.CertRequest) error {
	normRequest(r)
	res, err := t.exec(qUpdateRequest, string(r.Status), ref(r.CertificateID), ref(r.DecidedBy), r.Comment, micros(r.DecidedAt), r.ID)
	err = t.one(res, err, notFound("certificate request %d not found", r.ID), "", requestMissing)
	if !lanyard.IsCode(err, lanyard.ENotFound) {
		return err
	}
	cur, gerr := t.RequestByID(r.ID)
	if gerr != nil {
		return gerr
	}
	return lanyard.Errorf(lanyard.EConflict, "certificate request %d is already %s", r.ID, cur.Status)
}

func (t requestsTx) RequestByID(id int64) (*lanyard.CertRequest, error) {
	r, err := scanRequest(t.row(qRequestByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("certificate request %d not found", id))
	}
	return r, nil
}

// ListRequests returns the requests with status ("" = all) in arrival
// order: the CA managers' queue.
func (t requestsTx) ListRequests(status lanyard.RequestStatus) ([]*lanyard.CertRequest, error) {
	if status == "" {
		rows, err := t.rows(qListRequests)
		return collect(t.txn, rows, err, scanRequest)
	}
	rows, err := t.rows(qListRequestsStatus, string(status))
	return collect(t.txn, rows, err, scanRequest)
}

func scanRequest(s scanner) (*lanyard.CertRequest, error) {
	var r lanyard.CertRequest
	var requestedBy, certID, decidedBy, opID sql.NullInt64
	var status string
	var created, decided int64
	if err := s.Scan(&r.ID, &r.CA, &r.Template, &r.UserID, &requestedBy, &r.PublicKey, &r.CSR, &r.KeySHA256, &r.Subject, &status,
		&certID, &decidedBy, &r.Comment, &created, &decided, &opID); err != nil {
		return nil, err
	}
	r.RequestedBy, r.CertificateID, r.DecidedBy, r.OperationID = refOut(requestedBy), refOut(certID), refOut(decidedBy), refOut(opID)
	r.Status = lanyard.RequestStatus(status)
	r.PublicKey, r.CSR = bytesOut(r.PublicKey), bytesOut(r.CSR)
	r.CreatedAt, r.DecidedAt = fromMicros(created), fromMicros(decided)
	return &r, nil
}
