package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// Dialect is everything sqlstore needs to know about an engine. Queries are
// written once with ? placeholders and rebound when they are prepared.
type Dialect struct {
	// Name is what Store.Engine reports: "sqlite" or "postgres".
	Name string
	// Numbered placeholders: rewrite ? to $1, $2 … (PostgreSQL).
	Numbered bool
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation, judged by the driver's error code, never by message text
	// (messages change between versions and locales).
	IsUniqueViolation func(error) bool
	// IsForeignKeyViolation reports whether err is a foreign key violation.
	IsForeignKeyViolation func(error) bool
	// AuditLock, when set, is executed once per transaction before the
	// first AppendAudit reads the chain head, and must block until no other
	// transaction can append (PostgreSQL: a transaction-scoped advisory
	// lock). Empty when the engine already serializes writers (SQLite).
	AuditLock string
	// OIDCLoginLock, when set, is executed by LockOIDCLogins and must
	// block until no other transaction holds it (PostgreSQL: a
	// transaction-scoped advisory lock). Empty when the engine already
	// serializes writers (SQLite).
	OIDCLoginLock string
	// NoSyncCommit, when set, is executed first in a transaction that a
	// crash may lose without harm (the throttles' state): its commit then
	// does not wait for the disk (PostgreSQL: "SET LOCAL
	// synchronous_commit = off", which keeps its visibility and locking
	// and only lets a crash forget the last moments' changes). Empty:
	// commits as every other transaction.
	NoSyncCommit string
	// MigrationLock, when set, is executed at the start of every migration
	// transaction so that replicas starting together migrate one at a time.
	MigrationLock string
	// SkipLocked, when set, ends the sub-select that picks the rows a
	// job claim takes, so that concurrent claimers skip each other's rows
	// instead of waiting or taking them twice (PostgreSQL: "FOR UPDATE
	// SKIP LOCKED"). Empty when the engine has a single writer (SQLite).
	SkipLocked string
	// RowLock, when set, ends a SELECT whose rows the transaction holds
	// until it ends (PostgreSQL: "FOR UPDATE"). Empty when the engine
	// serializes writers (SQLite).
	RowLock string
	// JSONArrayContains returns a SQL condition that is true when the JSON
	// array of strings in column holds the string bound to the condition's
	// single ? placeholder.
	JSONArrayContains func(column string) string
	// Pipeline, when set, runs stmts on conn in order, sent together in
	// one round trip, as one implicit transaction: all commit or, on the
	// first error, none (PostgreSQL's extended-query pipeline ending in a
	// single Sync). DB.CreateIssued uses it for the group commit.
	Pipeline func(ctx context.Context, conn *sql.Conn, stmts []PipelinedStmt) error
	// RouteEpoch returns the next agent route epoch, greater than every
	// one returned before in the database (PostgreSQL: nextval of a
	// sequence; SQLite: a counter row, its single writer serializing).
	RouteEpoch string
	// NotifySQL, when set, sends notices to the other replicas inside a
	// transaction, delivered if and when it commits: its first
	// placeholder is the channel, the second a list of texts, one
	// notice each (PostgreSQL: pg_notify over unnest). Empty when the
	// engine has no such transport (SQLite: one process, notices are
	// delivered in process only).
	NotifySQL string
}

// Rebind rewrites the ? placeholders of q for the engine. Question marks
// inside quoted literals or identifiers are left alone.
func (d *Dialect) Rebind(q string) string {
	if !d.Numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
