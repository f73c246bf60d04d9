package sqlstore

import (
	"bytes"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// batchRows caps the rows of one multi-row INSERT, well inside SQLite's
// bound-parameter limit (32766) and PostgreSQL's (65535).
const batchRows = 64

// valuesList returns "(?, …, ?), (…)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// CreateCertificates inserts cs with multi-row INSERTs: the group-commit
// path of issuance writes a batch in a few statements instead of one per
// certificate. IDs are matched back by (CA, serial), which is unique,
// because neither engine promises RETURNING rows in VALUES order.
func (t *txn) CreateCertificates(cs []*lanyard.Certificate) error {
	for len(cs) > 0 {
		n := min(len(cs), batchRows)
		if err := t.insertCerts(cs[:n]); err != nil {
			return err
		}
		cs = cs[n:]
	}
	return nil
}

func (t *txn) insertCerts(cs []*lanyard.Certificate) error {
	const cols = 18
	args := make([]any, 0, cols*len(cs))
	byKey := make(map[[2]string]*lanyard.Certificate, len(cs))
	for _, c := range cs {
		normCert(c)
		args = append(args, c.CA, c.Serial, c.Template, ref(c.UserID), ref(c.CardID), ref(c.RequestID), c.Subject,
			micros(c.NotBefore), micros(c.NotAfter), string(c.Status), string(c.Source), c.KeySHA256, blob(c.DER),
			micros(c.RevokedAt), int64(c.Reason), c.ReasonName, micros(c.CreatedAt), micros(c.UpdatedAt))
		byKey[[2]string{c.CA, c.Serial}] = c
	}
	rows, err := t.query(`INSERT INTO certificates (ca, serial, template, user_id, card_id, request_id, subject, not_before, not_after,
		status, source, key_sha256, der, revoked_at, revocation_reason, revocation_reason_name, created_at, updated_at)
		VALUES `+valuesList(len(cs), cols)+` RETURNING id, ca, serial`, args...)
	if err != nil {
		return t.writeErr(err, "a certificate of this batch already exists", "a certificate of this batch names a user that does not exist")
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var id int64
		var ca, serial string
		if err := rows.Scan(&id, &ca, &serial); err != nil {
			return t.fail(dbError(err))
		}
		if c := byKey[[2]string{ca, serial}]; c != nil {
			c.ID = id
			seen++
		}
	}
	if err := rows.Err(); err != nil {
		return t.writeErr(err, "a certificate of this batch already exists", "a certificate of this batch names a user that does not exist")
	}
	if seen != len(cs) {
		return t.fail(lanyard.Errorf(lanyard.EInternal, "batch insert returned %d of %d certificates", seen, len(cs)))
	}
	return nil
}

// AppendAudits links es to the chain in order and stores them with
// multi-row INSERTs; the result equals calling AppendAudit for each.
func (t *txn) AppendAudits(es []*lanyard.AuditEvent) error {
	for _, e := range es {
		if e.Time.IsZero() {
			return lanyard.Errorf(lanyard.EInvalid, "audit event %q has no time", e.Action)
		}
	}
	if t.head == nil {
		if err := t.loadAuditHead(); err != nil {
			return err
		}
	}
	for len(es) > 0 {
		n := min(len(es), batchRows)
		if err := t.insertAudits(es[:n]); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

func (t *txn) insertAudits(es []*lanyard.AuditEvent) error {
	const cols = 10
	args := make([]any, 0, cols*len(es))
	head := *t.head
	for _, e := range es {
		e.Seq = head.seq + 1
		e.PrevHash = bytes.Clone(head.hash)
		e.Time = normTime(e.Time)
		e.Details = bytesOut(e.Details)
		e.Hash = e.CanonicalHash(e.PrevHash)
		args = append(args, e.Seq, micros(e.Time), e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RemoteAddr,
			blob(e.Details), blob(e.PrevHash), e.Hash)
		head = auditHead{seq: e.Seq, hash: e.Hash}
	}
	if t.failed != nil {
		return t.aborted()
	}
	if _, err := t.tx.ExecContext(t.ctx, t.d.Rebind(`INSERT INTO audit_events (`+auditCols+`) VALUES `+valuesList(len(es), cols)), args...); err != nil {
		return t.writeErr(err, "audit chain moved concurrently", "")
	}
	t.head = &head
	return nil
}
