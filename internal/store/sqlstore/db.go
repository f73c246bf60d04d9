package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notices"
)

// DB is a lanyard.Store over database/sql. Update runs on the write pool
// and View on the read pool; they may be the same pool (PostgreSQL). SQLite
// gives Update a pool of one connection, which serializes writers in the
// process, and View a separate query-only pool, so reads never wait for a
// writer (WAL).
type DB struct {
	d         Dialect
	write     *sql.DB
	read      *sql.DB
	wstmts    []*sql.Stmt
	rstmts    []*sql.Stmt
	heads     headCache // audit chain head after this process's last commit (pipeline.go)
	pipelined atomic.Int64
	remote    noticeRemote // change notices between replicas (notices.go)
}

var _ lanyard.Store = (*DB)(nil)

// New returns a store over pools whose schema is already migrated
// (Migrate). It prepares every statement up front (see stmt). The DB takes
// ownership of the pools: Close closes them.
func New(ctx context.Context, d Dialect, write, read *sql.DB) (*DB, error) {
	if d.Name == "" || d.IsUniqueViolation == nil || d.IsForeignKeyViolation == nil || d.JSONArrayContains == nil {
		return nil, errors.New("sqlstore: incomplete dialect")
	}
	db := &DB{d: d, write: write, read: read}
	var err error
	if db.remote.origin, err = newOrigin(); err != nil {
		return nil, err
	}
	if db.wstmts, err = prepareAll(ctx, write, &db.d); err != nil {
		return nil, err
	}
	db.rstmts = db.wstmts
	if read != write {
		if db.rstmts, err = prepareAll(ctx, read, &db.d); err != nil {
			closeAll(db.wstmts)
			return nil, err
		}
	}
	return db, nil
}

// Engine names the engine: "sqlite" or "postgres".
func (db *DB) Engine() string { return db.d.Name }

// Update runs fn in a read-write transaction and commits if fn returns nil
// and no statement failed; otherwise everything is rolled back, audit
// events included. A panic in fn rolls back and propagates.
func (db *DB) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
	}
	t := newTxn(ctx, &db.d, sqlTx, db.wstmts)
	t.notes = &notices.Queue{}
	committed := false
	defer func() {
		if !committed {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(t.asTx()); err != nil {
		return err
	}
	if t.failed != nil {
		return t.failed
	}
	if err := db.sendNotices(ctx, sqlTx, t.notes.List()); err != nil {
		return err
	}
	committed = true
	if err := sqlTx.Commit(); err != nil {
		return dbError(err)
	}
	if t.head != nil {
		db.heads.advance(t.head)
	}
	db.deliverLocal(t.notes.List())
	return nil
}

// View runs fn in a read-only transaction. It cannot write: the SQLite read
// pool is query_only, the PostgreSQL transaction is READ ONLY, and View
// always rolls back, so even a driver that ignored both would persist
// nothing.
func (db *DB) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	sqlTx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
	}
	defer func() { _ = sqlTx.Rollback() }()
	t := newTxn(ctx, &db.d, sqlTx, db.rstmts)
	if err := fn(t.asTx()); err != nil {
		return err
	}
	return t.failed
}

// Ping checks that both pools reach the database.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
	}
	if db.read != db.write {
		if err := db.read.PingContext(ctx); err != nil {
			return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
		}
	}
	return nil
}

// Close stops the notice listener, releases the prepared statements and
// closes the pools.
func (db *DB) Close() error {
	db.stopListener()
	closeAll(db.wstmts)
	err := db.write.Close()
	if db.read != db.write {
		closeAll(db.rstmts)
		err = errors.Join(err, db.read.Close())
	}
	return err
}
