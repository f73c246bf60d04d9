package sqlstore

import (
	"database/sql"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const keyRecoveryCols = `id, archived_key_id, owner_id, requested_by, reason, state, decided_by, comment, created_at, updated_at, owner_email, expires_at`

var (
	qCreateKeyRecovery = prepared(`INSERT INTO key_recovery_requests (archived_key_id, owner_id, requested_by, reason, state, decided_by, comment, created_at, updated_at, owner_email, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateKeyRecovery = prepared(`UPDATE key_recovery_requests SET state = ?, decided_by = ?, comment = ?, updated_at = ? WHERE id = ? AND state = ?`)
	qKeyRecoveryByID   = prepared(`SELECT ` + keyRecoveryCols + ` FROM key_recovery_requests WHERE id = ?`)
	qKeyRecoveries     = prepared(`SELECT ` + keyRecoveryCols + ` FROM key_recovery_requests WHERE (? = '' OR state = ?) ORDER BY created_at DESC, id DESC`)
)

// keyRecoveryTx is the key recovery requests' part of a transaction.
type keyRecoveryTx struct{ *txn }

// decider is a request's decided_by: NULL while pending.
func decider(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func (t keyRecoveryTx) CreateKeyRecoveryRequest(r *lanyard.KeyRecoveryRequest) error {
	if !r.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "key recovery request state %q is not valid", r.State)
	}
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt = normTime(r.CreatedAt), normTime(r.UpdatedAt), normTime(r.ExpiresAt)
	err := t.row(qCreateKeyRecovery, r.ArchivedKeyID, r.OwnerID, r.RequestedBy, r.Reason, string(r.State), decider(r.DecidedBy), r.Comment,
		micros(r.CreatedAt), micros(r.UpdatedAt), r.OwnerEmail, micros(r.ExpiresAt)).Scan(&r.ID)
	if err != nil {
		return t.writeErr(err, "", "the archived key, its owner or the requester does not exist")
	}
	return nil
}

func (t keyRecoveryTx) UpdateKeyRecoveryRequest(r *lanyard.KeyRecoveryRequest, from lanyard.KeyRecoveryState) error {
	if !r.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "key recovery request state %q is not valid", r.State)
	}
	r.UpdatedAt = normTime(r.UpdatedAt)
	res, err := t.exec(qUpdateKeyRecovery, string(r.State), decider(r.DecidedBy), r.Comment, micros(r.UpdatedAt), r.ID, string(from))
	n, err := t.affected(res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		if _, err := t.KeyRecoveryRequestByID(r.ID); err != nil {
			return err
		}
		return lanyard.Errorf(lanyard.EConflict, "key recovery request %d is no longer %s (someone else acted on it)", r.ID, from)
	}
	return nil
}

func (t keyRecoveryTx) KeyRecoveryRequestByID(id int64) (*lanyard.KeyRecoveryRequest, error) {
	r, err := scanKeyRecovery(t.row(qKeyRecoveryByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("key recovery request %d not found", id))
	}
	return r, nil
}

func (t keyRecoveryTx) ListKeyRecoveryRequests(state lanyard.KeyRecoveryState) ([]*lanyard.KeyRecoveryRequest, error) {
	rows, err := t.rows(qKeyRecoveries, string(state), string(state))
	return collect(t.txn, rows, err, scanKeyRecovery)
}

func scanKeyRecovery(s scanner) (*lanyard.KeyRecoveryRequest, error) {
	var r lanyard.KeyRecoveryRequest
	var state string
	var decided sql.NullInt64
	var created, updated, expires int64
	if err := s.Scan(&r.ID, &r.ArchivedKeyID, &r.OwnerID, &r.RequestedBy, &r.Reason, &state, &decided, &r.Comment, &created, &updated,
		&r.OwnerEmail, &expires); err != nil {
		return nil, err
	}
	r.State, r.DecidedBy = lanyard.KeyRecoveryState(state), decided.Int64
	r.CreatedAt, r.UpdatedAt, r.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	return &r, nil
}
