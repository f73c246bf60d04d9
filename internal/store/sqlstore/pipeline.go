package sqlstore

import (
	"bytes"
	"context"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PipelinedStmt is one statement of a pipeline (Dialect.Pipeline). SQL is
// already rebound for the engine. Rows, when set, receives each result
// row's Scan function; otherwise the statement's result is discarded.
type PipelinedStmt struct {
	SQL  string
	Args []any
	Rows func(scan func(dest ...any) error) error
}

// headCache remembers the audit chain head as of the last commit this
// process made, so the group-commit path can link a batch's events
// without first reading the head in its own round trip.
type headCache struct {
	mu   sync.Mutex
	head *auditHead
}

func (c *headCache) get() *auditHead {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == nil {
		return nil
	}
	h := *c.head
	return &h
}

// advance records h if it is newer than what is cached: commits finish in
// chain order, but their callers may report them in any order.
func (c *headCache) advance(h *auditHead) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head == nil || h.seq > c.head.seq {
		c.head = &auditHead{seq: h.seq, hash: bytes.Clone(h.hash)}
	}
}

func (c *headCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.head = nil
}

// qAuditGuard fails the statement, and with it the pipeline's implicit
// transaction, unless the chain head is still the event the batch links
// to: COUNT(*) is 0 when that event is missing or differs, and 1/0 raises
// division_by_zero on PostgreSQL. A later event, the other way the cache
// can be stale, makes the batch's first sequence number collide with the
// audit table's primary key. Together: the batch commits only when it
// extends the true head.
const qAuditGuard = `SELECT 1 / COUNT(*) FROM audit_events WHERE seq = ? AND hash = ?`

// CreateIssued stores a batch of issued certificates and their audit
// events in one transaction: the group-commit writer's path. Its effect is
// exactly that of Update with CreateCertificates and AppendAudits.
//
// On an engine with a pipeline (PostgreSQL) and a known chain head, the
// whole transaction — inserts, chain lock, head check, audit inserts — is
// sent in one round trip instead of six (BEGIN, insert, lock, read head,
// insert, COMMIT). Under load those round trips, each waiting for a CPU
// shared with signing and HTTP, were what kept PostgreSQL issuance below
// SQLite's. If the pipeline fails for any reason (stale head, a duplicate
// serial, a lost connection) nothing of it committed, and the batch runs
// again through Update, which reads the head under the lock and reports
// errors as usual.
func (db *DB) CreateIssued(ctx context.Context, certs []*lanyard.Certificate, evs []*lanyard.AuditEvent) error {
	for _, e := range evs {
		if e.Time.IsZero() {
			return lanyard.Errorf(lanyard.EInvalid, "audit event %q has no time", e.Action)
		}
	}
	if db.d.Pipeline != nil && len(evs) > 0 {
		if head := db.heads.get(); head != nil && head.seq > 0 {
			if err := db.pipelineIssued(ctx, *head, certs, evs); err == nil {
				return nil
			}
			db.heads.forget()
		}
	}
	return db.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCertificates(certs); err != nil {
			return err
		}
		return tx.AppendAudits(evs)
	})
}

func (db *DB) pipelineIssued(ctx context.Context, head auditHead, certs []*lanyard.Certificate, evs []*lanyard.AuditEvent) error {
	var stmts []PipelinedStmt
	var ids []*certIDs
	for rest := certs; len(rest) > 0; {
		n := chunk(len(rest))
		args, got := certInsert(rest[:n])
		ids = append(ids, got)
		stmts = append(stmts, PipelinedStmt{SQL: db.d.Rebind(stmtText[qInsertCertsN[n]]), Args: args, Rows: got.scan})
		rest = rest[n:]
	}
	stmts = append(stmts,
		PipelinedStmt{SQL: db.d.AuditLock},
		PipelinedStmt{SQL: db.d.Rebind(qAuditGuard), Args: []any{head.seq, head.hash}})
	next := head
	for rest := evs; len(rest) > 0; {
		n := chunk(len(rest))
		var args []any
		args, next = auditInsert(next, rest[:n])
		stmts = append(stmts, PipelinedStmt{SQL: db.d.Rebind(stmtText[qInsertAuditsN[n]]), Args: args})
		rest = rest[n:]
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := db.d.Pipeline(ctx, conn, stmts); err != nil {
		return err
	}
	for _, got := range ids {
		if err := got.check(); err != nil {
			return err
		}
	}
	db.heads.advance(&next)
	db.pipelined.Add(1)
	return nil
}

// PipelinedCommits is how many CreateIssued batches committed through the
// pipeline rather than Update: for tests and diagnostics.
func (db *DB) PipelinedCommits() int64 { return db.pipelined.Load() }
