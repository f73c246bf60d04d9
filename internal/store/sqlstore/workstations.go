package sqlstore

import (
	"database/sql"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const workstationCols = `id, name, owner_id, status, public_key, key_sha256, cert_serial, pairing_code, pairing_expires_at, tpm, agent_version, created_at, paired_at, last_seen_at, role`

var (
	qInsertWorkstation = prepared(`INSERT INTO workstations (name, owner_id, status, public_key, key_sha256, cert_serial, pairing_code, pairing_expires_at, tpm, agent_version,
		created_at, paired_at, last_seen_at, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qUpdateWorkstation = prepared(`UPDATE workstations SET name = ?, owner_id = ?, status = ?, public_key = ?, key_sha256 = ?, cert_serial = ?, pairing_code = ?,
		pairing_expires_at = ?, tpm = ?, agent_version = ?, paired_at = ?, last_seen_at = ? WHERE id = ?`)
	qTouchWorkstation = prepared(`UPDATE workstations SET last_seen_at = ? WHERE id = ?`)
	qPurgePairings    = prepared(`DELETE FROM workstations WHERE status = 'pending' AND pairing_expires_at < ?`)
	qWorkstationByID  = prepared(`SELECT ` + workstationCols + ` FROM workstations WHERE id = ?`)
	// The empty string is never a code or a serial (the partial unique
	// indexes leave it out), so look-ups of "" find nothing.
	qWorkstationByCode   = prepared(`SELECT ` + workstationCols + ` FROM workstations WHERE pairing_code = ? AND pairing_code <> ''`)
	qWorkstationBySerial = prepared(`SELECT ` + workstationCols + ` FROM workstations WHERE cert_serial = ? AND cert_serial <> ''`)
)

const workstationMissing = "workstation refers to a user that does not exist"

func normWorkstation(w *lanyard.Workstation) {
	w.PublicKey = bytesOut(w.PublicKey)
	w.CreatedAt, w.PairedAt, w.LastSeenAt = normTime(w.CreatedAt), normTime(w.PairedAt), normTime(w.LastSeenAt)
	w.PairingExpiresAt = normTime(w.PairingExpiresAt)
}

func (t workstationsTx) CreateWorkstation(w *lanyard.Workstation) error {
	normWorkstation(w)
	if w.Role == "" {
		w.Role = lanyard.RoleWorkstation
	}
	err := t.row(qInsertWorkstation, w.Name, ref(w.OwnerID), string(w.Status), blob(w.PublicKey), w.KeySHA256, w.CertSerial, w.PairingCode, micros(w.PairingExpiresAt), w.TPM,
		w.AgentVersion, micros(w.CreatedAt), micros(w.PairedAt), micros(w.LastSeenAt), string(w.Role)).Scan(&w.ID)
	if err != nil {
		return t.writeErr(err, "a workstation with this pairing code or certificate already exists", workstationMissing)
	}
	return nil
}

func (t workstationsTx) UpdateWorkstation(w *lanyard.Workstation) error {
	normWorkstation(w)
	res, err := t.exec(qUpdateWorkstation, w.Name, ref(w.OwnerID), string(w.Status), blob(w.PublicKey), w.KeySHA256, w.CertSerial, w.PairingCode, micros(w.PairingExpiresAt), w.TPM,
		w.AgentVersion, micros(w.PairedAt), micros(w.LastSeenAt), w.ID)
	return t.one(res, err, notFound("workstation %d not found", w.ID),
		"a workstation with this pairing code or certificate already exists", workstationMissing)
}

func (t workstationsTx) TouchWorkstation(id int64, at time.Time) error {
	res, err := t.exec(qTouchWorkstation, micros(at), id)
	return t.one(res, err, notFound("workstation %d not found", id), "", "")
}

func (t workstationsTx) WorkstationByID(id int64) (*lanyard.Workstation, error) {
	w, err := scanWorkstation(t.row(qWorkstationByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("workstation %d not found", id))
	}
	return w, nil
}

func (t workstationsTx) WorkstationByPairingCode(hash string) (*lanyard.Workstation, error) {
	w, err := scanWorkstation(t.row(qWorkstationByCode, hash))
	if err != nil {
		return nil, t.readErr(err, notFound("no workstation waits for this pairing code"))
	}
	return w, nil
}

func (t workstationsTx) WorkstationByCertSerial(serial string) (*lanyard.Workstation, error) {
	w, err := scanWorkstation(t.row(qWorkstationBySerial, serial))
	if err != nil {
		return nil, t.readErr(err, notFound("no workstation holds certificate %s", serial))
	}
	return w, nil
}

// ListWorkstations returns the workstations matching f in id order.
func (t workstationsTx) ListWorkstations(f lanyard.WorkstationFilter) ([]*lanyard.Workstation, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + workstationCols + ` FROM workstations WHERE 1 = 1`)
	if f.OwnerID != 0 {
		q.WriteString(` AND owner_id = ?`)
		args = append(args, f.OwnerID)
	}
	if f.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, string(f.Status))
	}
	q.WriteString(` ORDER BY id`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanWorkstation)
}

func scanWorkstation(s scanner) (*lanyard.Workstation, error) {
	var w lanyard.Workstation
	var owner sql.NullInt64
	var status, role string
	var created, paired, seen, expires int64
	if err := s.Scan(&w.ID, &w.Name, &owner, &status, &w.PublicKey, &w.KeySHA256, &w.CertSerial, &w.PairingCode, &expires, &w.TPM, &w.AgentVersion,
		&created, &paired, &seen, &role); err != nil {
		return nil, err
	}
	w.Role = lanyard.WorkstationRole(role)
	w.OwnerID = refOut(owner)
	w.PublicKey = bytesOut(w.PublicKey)
	w.Status = lanyard.WorkstationStatus(status)
	w.CreatedAt, w.PairedAt, w.LastSeenAt = fromMicros(created), fromMicros(paired), fromMicros(seen)
	w.PairingExpiresAt = fromMicros(expires)
	return &w, nil
}

// DeleteExpiredPairings deletes unconfirmed pairing requests that expired
// before before: they hold no certificate and can never be confirmed.
func (t workstationsTx) DeleteExpiredPairings(before time.Time) (int, error) {
	res, err := t.exec(qPurgePairings, micros(before))
	return t.affected(res, err)
}
