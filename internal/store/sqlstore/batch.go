package sqlstore

import (
	"bytes"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Multi-row INSERTs come in a few fixed sizes, prepared once like every
// other statement: a batch of n rows is written as the largest sizes that
// fit (n = 45 → 32 + 8 + 4 + 1). Statements of every possible row count
// would defeat the drivers' statement caches (PostgreSQL then re-parses
// and re-plans on most batches). 64 rows stay well inside SQLite's
// bound-parameter limit (32766) and PostgreSQL's (65535).
var chunkSizes = []int{64, 32, 16, 8, 4, 2, 1}

const (
	certInsertCols  = 19
	auditInsertCols = 10
)

var (
	qInsertCertsN  = map[int]stmt{}
	qInsertAuditsN = map[int]stmt{}
)

func init() {
	for _, n := range chunkSizes {
		qInsertCertsN[n] = prepared(`INSERT INTO certificates (ca, serial, template, user_id, card_id, request_id, subject, not_before, not_after,
		status, source, key_sha256, der, revoked_at, revocation_reason, revocation_reason_name, created_at, updated_at, slot)
		VALUES ` + valuesList(n, certInsertCols) + ` RETURNING id, ca, serial`)
		qInsertAuditsN[n] = prepared(`INSERT INTO audit_events (` + auditCols + `) VALUES ` + valuesList(n, auditInsertCols))
	}
}

// chunk returns the largest prepared size that fits n (n ≥ 1).
func chunk(n int) int {
	for _, c := range chunkSizes {
		if c <= n {
			return c
		}
	}
	return 1
}

// valuesList returns "(?, …, ?), (…)" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// CreateCertificates inserts cs with multi-row INSERTs: the group-commit
// path of issuance writes a batch in a few statements instead of one per
// certificate. IDs are matched back by (CA, serial), which is unique,
// because neither engine promises RETURNING rows in VALUES order.
func (t batchTx) CreateCertificates(cs []*lanyard.Certificate) error {
	for len(cs) > 0 {
		n := chunk(len(cs))
		if err := t.insertCerts(cs[:n]); err != nil {
			return err
		}
		cs = cs[n:]
	}
	return nil
}

func (t *txn) insertCerts(cs []*lanyard.Certificate) error {
	args, ids := certInsert(cs)
	rows, err := t.rows(qInsertCertsN[len(cs)], args...)
	if err != nil {
		return t.writeErr(err, "a certificate of this batch already exists", "a certificate of this batch names a user that does not exist")
	}
	defer rows.Close()
	for rows.Next() {
		if err := ids.scan(rows.Scan); err != nil {
			return t.fail(dbError(err))
		}
	}
	if err := rows.Err(); err != nil {
		return t.writeErr(err, "a certificate of this batch already exists", "a certificate of this batch names a user that does not exist")
	}
	if err := ids.check(); err != nil {
		return t.fail(err)
	}
	return nil
}

// certInsert returns the arguments of qInsertCertsN[len(cs)] and the
// matcher that hands the RETURNING rows' IDs back to cs.
func certInsert(cs []*lanyard.Certificate) ([]any, *certIDs) {
	args := make([]any, 0, certInsertCols*len(cs))
	ids := &certIDs{byKey: make(map[[2]string]*lanyard.Certificate, len(cs))}
	for _, c := range cs {
		normCert(c)
		args = append(args, c.CA, c.Serial, c.Template, ref(c.UserID), ref(c.CardID), ref(c.RequestID), c.Subject,
			micros(c.NotBefore), micros(c.NotAfter), string(c.Status), string(c.Source), c.KeySHA256, blob(c.DER),
			micros(c.RevokedAt), int64(c.Reason), c.ReasonName, micros(c.CreatedAt), micros(c.UpdatedAt), c.Slot)
		ids.byKey[[2]string{c.CA, c.Serial}] = c
	}
	return args, ids
}

// certIDs matches RETURNING (id, ca, serial) rows back to certificates by
// (CA, serial), which is unique, because neither engine promises RETURNING
// rows in VALUES order.
type certIDs struct {
	byKey map[[2]string]*lanyard.Certificate
	seen  int
}

func (m *certIDs) scan(scan func(dest ...any) error) error {
	var id int64
	var ca, serial string
	if err := scan(&id, &ca, &serial); err != nil {
		return err
	}
	if c := m.byKey[[2]string{ca, serial}]; c != nil {
		c.ID = id
		m.seen++
	}
	return nil
}

// check reports a RETURNING result that did not name every certificate.
func (m *certIDs) check() error {
	if m.seen != len(m.byKey) {
		return lanyard.Errorf(lanyard.EInternal, "batch insert returned %d of %d certificates", m.seen, len(m.byKey))
	}
	return nil
}

// AppendAudits links es to the chain in order and stores them with
// multi-row INSERTs; the result equals calling AppendAudit for each.
func (t batchTx) AppendAudits(es []*lanyard.AuditEvent) error {
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
		n := chunk(len(es))
		if err := t.insertAudits(es[:n]); err != nil {
			return err
		}
		es = es[n:]
	}
	return nil
}

func (t *txn) insertAudits(es []*lanyard.AuditEvent) error {
	args, head := auditInsert(*t.head, es)
	if _, err := t.exec(qInsertAuditsN[len(es)], args...); err != nil {
		return t.writeErr(err, "audit chain moved concurrently", "")
	}
	t.head = &head
	return nil
}

// auditInsert links es to the chain after head (Seq, PrevHash, Hash, with
// Time and Details normalised as stored) and returns the arguments of
// qInsertAuditsN[len(es)] and the new head.
func auditInsert(head auditHead, es []*lanyard.AuditEvent) ([]any, auditHead) {
	args := make([]any, 0, auditInsertCols*len(es))
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
	return args, head
}
