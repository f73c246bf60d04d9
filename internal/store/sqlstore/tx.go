package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notices"
)

// txn is the state of one View or Update call and the plumbing the
// store's methods share (this file). The methods themselves live in one
// file per noun (users.go, certificates.go …), each on its own small type
// embedding the txn, and storeTx puts them together as the lanyard.Tx the
// callback gets — as lanyard.Tx is composed of one interface per aggregate.
type txn struct {
	ctx    context.Context // the View/Update context; lanyard.Tx methods take none
	d      *Dialect
	tx     *sql.Tx
	parent []*sql.Stmt // the pool's prepared statements, indexed by stmt
	local  []*sql.Stmt // parent statements bound to this transaction, made on first use
	failed error       // first database failure; see the package doc
	head   *auditHead  // audit chain head, once read (audit.go)
	// notes are the notices sent in an Update, delivered after it
	// commits (notices.go); nil in a View, which cannot send any.
	notes *notices.Queue
}

// The per-noun parts of a transaction.
type airCardsTx struct{ *txn }     // aircards.go
type auditTx struct{ *txn }        // audit.go
type batchTx struct{ *txn }        // batch.go
type cardsTx struct{ *txn }        // cards.go
type cardPINTx struct{ *txn }      // cardpin.go
type cardContentTx struct{ *txn }  // cardcontent.go
type cardTypesTx struct{ *txn }    // cardtypes.go
type casTx struct{ *txn }          // cas.go
type certificatesTx struct{ *txn } // certificates.go
type documentsTx struct{ *txn }    // documents.go
type heldPINsTx struct{ *txn }     // heldpins.go
type mailTx struct{ *txn }
type offlineUnblocksTx struct{ *txn } // offline.go         // mail.go
type operationsTx struct{ *txn }      // operations.go
type policiesTx struct{ *txn }        // policies.go
type requestsTx struct{ *txn }        // requests.go
type secretsTx struct{ *txn }         // secrets.go
type sessionsTx struct{ *txn }        // sessions.go
type settingsTx struct{ *txn }        // settings.go
type templatesTx struct{ *txn }       // templates.go
type tokensTx struct{ *txn }          // tokens.go
type totpTx struct{ *txn }            // totp.go
type usersTx struct{ *txn }           // users.go
type oidcTx struct{ *txn }            // oidc.go
type workstationsTx struct{ *txn }    // workstations.go
type replicasTx struct{ *txn }        // replicas.go
type noticesTx struct{ *txn }         // notices.go

// cardReplacementsTx is the card replacements' part (replacements.go).
type cardReplacementsTx struct{ *txn }

// storeTx is the lanyard.Tx of one View or Update call.
type storeTx struct {
	airCardsTx
	auditTx
	batchTx
	cardsTx
	cardPINTx
	cardContentTx
	cardTypesTx
	casTx
	certificatesTx
	documentsTx
	heldPINsTx
	mailTx
	offlineUnblocksTx
	cardReplacementsTx
	archivedKeysTx
	keyRecoveryTx
	operationsTx
	policiesTx
	requestsTx
	secretsTx
	sessionsTx
	settingsTx
	templatesTx
	tokensTx
	totpTx
	usersTx
	oidcTx
	workstationsTx
	scimTx
	directorySourcesTx
	replicasTx
	noticesTx
}

var _ lanyard.Tx = storeTx{}

// asTx is t as the lanyard.Tx the View or Update callback gets.
func (t *txn) asTx() storeTx {
	return storeTx{airCardsTx{t}, auditTx{t}, batchTx{t}, cardsTx{t}, cardPINTx{t}, cardContentTx{t}, cardTypesTx{t}, casTx{t}, certificatesTx{t}, documentsTx{t}, heldPINsTx{t}, mailTx{t}, offlineUnblocksTx{t}, cardReplacementsTx{t}, archivedKeysTx{t}, keyRecoveryTx{t}, operationsTx{t}, policiesTx{t}, requestsTx{t}, secretsTx{t}, sessionsTx{t}, settingsTx{t}, templatesTx{t}, tokensTx{t}, totpTx{t}, usersTx{t}, oidcTx{t}, workstationsTx{t}, scimTx{t}, directorySourcesTx{t}, replicasTx{t}, noticesTx{t}}
}

func newTxn(ctx context.Context, d *Dialect, tx *sql.Tx, parent []*sql.Stmt) *txn {
	return &txn{ctx: ctx, d: d, tx: tx, parent: parent}
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// errRow is a row whose Scan fails with a fixed error.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// bound returns prepared statement s bound to the transaction. Binding
// reuses the statement already prepared on the transaction's connection.
func (t *txn) bound(s stmt) *sql.Stmt {
	if t.local == nil {
		t.local = make([]*sql.Stmt, len(t.parent))
	}
	if st := t.local[s]; st != nil {
		return st
	}
	st := t.tx.StmtContext(t.ctx, t.parent[s])
	t.local[s] = st
	return st
}

// exec runs prepared statement s.
func (t *txn) exec(s stmt, args ...any) (sql.Result, error) {
	if t.failed != nil {
		return nil, t.aborted()
	}
	return t.bound(s).ExecContext(t.ctx, args...)
}

// row runs prepared statement s, which returns at most one row.
func (t *txn) row(s stmt, args ...any) scanner {
	if t.failed != nil {
		return errRow{t.aborted()}
	}
	return t.bound(s).QueryRowContext(t.ctx, args...)
}

// rows runs prepared statement s.
func (t *txn) rows(s stmt, args ...any) (*sql.Rows, error) {
	if t.failed != nil {
		return nil, t.aborted()
	}
	return t.bound(s).QueryContext(t.ctx, args...)
}

// query runs a statement built at run time (filters); it is rebound here
// and left to the driver's own statement cache.
func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	if t.failed != nil {
		return nil, t.aborted()
	}
	return t.tx.QueryContext(t.ctx, t.d.Rebind(q), args...)
}

// aborted is what every call returns once the transaction has failed.
func (t *txn) aborted() error {
	return lanyard.Wrap(lanyard.EInternal, t.failed, "transaction aborted by an earlier error")
}

// fail records err as the transaction's failure, if it is the first, and
// returns it.
func (t *txn) fail(err error) error {
	if t.failed == nil {
		t.failed = err
	}
	return err
}

// readErr maps the error of a look-up: no row becomes notFound (which does
// not poison the transaction), anything else a database error.
func (t *txn) readErr(err error, notFound *lanyard.Error) error {
	if notFound != nil && errors.Is(err, sql.ErrNoRows) {
		return notFound
	}
	return t.fail(t.asLanyard(err))
}

// writeErr maps the error of a write: a unique violation becomes EConflict
// with message conflict, a foreign key violation EInvalid with message
// missing, anything else a database error. All of them poison the
// transaction.
func (t *txn) writeErr(err error, conflict, missing string) error {
	switch {
	case t.d.IsUniqueViolation(err):
		err = lanyard.Wrap(lanyard.EConflict, err, conflict)
	case t.d.IsForeignKeyViolation(err):
		err = lanyard.Wrap(lanyard.EInvalid, err, missing)
	default:
		err = t.asLanyard(err)
	}
	return t.fail(err)
}

// asLanyard passes *lanyard.Error values through (aborted transactions,
// corrupt rows) and wraps everything else as a database error.
func (t *txn) asLanyard(err error) error {
	var le *lanyard.Error
	if errors.As(err, &le) {
		return err
	}
	return dbError(err)
}

// one checks that a write touched exactly one row; zero rows means the
// object does not exist.
func (t *txn) one(res sql.Result, err error, notFound *lanyard.Error, conflict, missing string) error {
	if err != nil {
		return t.writeErr(err, conflict, missing)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return t.fail(dbError(err))
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// affected returns how many rows a write touched.
func (t *txn) affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, t.writeErr(err, "", "")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.fail(dbError(err))
	}
	return int(n), nil
}

// collect scans every row into a non-nil slice.
func collect[T any](t *txn, rows *sql.Rows, err error, scan func(scanner) (*T, error)) ([]*T, error) {
	if err != nil {
		return nil, t.readErr(err, nil)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.readErr(err, nil)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.readErr(err, nil)
	}
	return out, nil
}

// dbError hides a database failure from users and keeps it for the logs.
func dbError(err error) *lanyard.Error {
	return lanyard.Wrap(lanyard.EInternal, err, "database error")
}

// notFound builds the ENotFound error of a look-up.
func notFound(format string, args ...any) *lanyard.Error {
	return lanyard.Errorf(lanyard.ENotFound, format, args...)
}
