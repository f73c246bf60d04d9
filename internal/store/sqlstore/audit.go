package sqlstore

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const auditCols = `seq, occurred_at, actor, action, object_type, object_id, remote_addr, details, prev_hash, hash`

var (
	qAuditHead   = prepared(`SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`)
	qInsertAudit = prepared(`INSERT INTO audit_events (` + auditCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
)

// auditHead is the last event of the chain as this transaction sees it.
type auditHead struct {
	seq  int64
	hash []byte
}

// AppendAudit links e to the chain and stores it: Seq = last + 1,
// PrevHash = the last event's Hash (nil for the first event), Time
// normalised to UTC microseconds, Hash = e.CanonicalHash(PrevHash).
//
// The chain head is read once per transaction, under the chain lock, and
// then kept here, so a transaction appending many events reads it once.
// On PostgreSQL the lock is a transaction-scoped advisory lock, held until
// commit or rollback; other writers wait for it when they append, so
// appending last in a transaction keeps the wait short. On SQLite the
// writer lock (BEGIN IMMEDIATE) already serializes every writer.
func (t auditTx) AppendAudit(e *lanyard.AuditEvent) error {
	if e.Time.IsZero() {
		return lanyard.Errorf(lanyard.EInvalid, "audit event %q has no time", e.Action)
	}
	if t.head == nil {
		if err := t.loadAuditHead(); err != nil {
			return err
		}
	}
	e.Seq = t.head.seq + 1
	e.PrevHash = bytes.Clone(t.head.hash)
	e.Time = normTime(e.Time)
	e.Details = bytesOut(e.Details)
	e.Hash = e.CanonicalHash(e.PrevHash)
	_, err := t.exec(qInsertAudit, e.Seq, micros(e.Time), e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RemoteAddr,
		blob(e.Details), blob(e.PrevHash), e.Hash)
	if err != nil {
		// A duplicate seq means someone appended without the chain lock.
		return t.writeErr(err, "audit chain moved concurrently", "")
	}
	t.head = &auditHead{seq: e.Seq, hash: e.Hash}
	return nil
}

// LockAudit takes the chain lock (and reads the head) unless this
// transaction already holds it.
func (t auditTx) LockAudit() error {
	if t.head != nil {
		return nil
	}
	return t.loadAuditHead()
}

// loadAuditHead takes the chain lock and reads the last event.
func (t *txn) loadAuditHead() error {
	if t.failed != nil {
		return t.aborted()
	}
	if t.d.AuditLock != "" {
		if _, err := t.tx.ExecContext(t.ctx, t.d.AuditLock); err != nil {
			return t.fail(dbError(err))
		}
	}
	h := &auditHead{}
	switch err := t.row(qAuditHead).Scan(&h.seq, &h.hash); {
	case errors.Is(err, sql.ErrNoRows):
		// An empty log: the first event gets seq 1 and no previous hash.
	case err != nil:
		return t.readErr(err, nil)
	}
	h.hash = bytesOut(h.hash)
	t.head = h
	return nil
}

// ListAudit returns the events matching f in chain order.
func (t auditTx) ListAudit(f lanyard.AuditFilter) ([]*lanyard.AuditEvent, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + auditCols + ` FROM audit_events WHERE seq > ?`)
	args = append(args, f.AfterSeq)
	for _, c := range []struct{ col, val string }{
		{"action", f.Action}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID}, {"actor", f.Actor},
	} {
		if c.val != "" {
			q.WriteString(` AND ` + c.col + ` = ?`)
			args = append(args, c.val)
		}
	}
	q.WriteString(` ORDER BY seq`)
	args = appendPage(&q, args, f.Limit, 0)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanAudit)
}

func scanAudit(r scanner) (*lanyard.AuditEvent, error) {
	var e lanyard.AuditEvent
	var at int64
	var details []byte
	if err := r.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RemoteAddr, &details, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.Time = fromMicros(at)
	if len(details) > 0 {
		e.Details = json.RawMessage(details)
	}
	e.PrevHash, e.Hash = bytesOut(e.PrevHash), bytesOut(e.Hash)
	return &e, nil
}
