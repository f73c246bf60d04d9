// Package postgres is Lanyard's storage engine for several stateless server
// replicas sharing one PostgreSQL database (or a PostgreSQL-compatible
// distributed database). It supplies the dialect and connection setup over
// pgx's database/sql driver; the store itself is sqlstore.
//
// Transactions run at READ COMMITTED. The audit chain is serialized across
// replicas by a transaction-scoped advisory lock taken before the chain
// head is read: at READ COMMITTED each statement sees what was committed
// before it started, so once the lock is granted the head read is the true
// last event. (At REPEATABLE READ the snapshot could predate the lock and
// fork the chain.)
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" database/sql driver

	"github.com/lanyard-cms/lanyard/internal/store/sqlstore"
)

// lockClass is the first key of Lanyard's advisory locks ("LNYD"), so they
// do not collide with other applications sharing the database.
const lockClass = 0x4c4e5944

// Pool limits: enough connections for parallel requests of one replica,
// few enough that a dozen replicas stay under the server's default
// max_connections of 100 … with room for tools. Connections are recycled
// so that a failover or load balancer change is picked up.
const (
	maxConns        = 16
	connMaxIdleTime = 5 * time.Minute
	connMaxLifetime = 30 * time.Minute
)

var dialect = sqlstore.Dialect{
	Name:                  "postgres",
	Numbered:              true,
	IsUniqueViolation:     sqlState("23505"), // unique_violation (covers primary keys)
	IsForeignKeyViolation: sqlState("23503"), // foreign_key_violation
	// The second keys are OIDs of the audit table and of the schema, so a
	// database holding several Lanyard schemas (tests, tenants) has
	// independent chains and migrations; they never collide because
	// PostgreSQL assigns OIDs from one counter.
	AuditLock:     fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, 'audit_events'::regclass::oid::int4)`, lockClass),
	OIDCLoginLock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, 'oidc_logins'::regclass::oid::int4)`, lockClass),
	MigrationLock: fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, COALESCE((SELECT oid::int4 FROM pg_namespace WHERE nspname = current_schema()), 0))`,
		lockClass),
	SkipLocked: "FOR UPDATE SKIP LOCKED",
	RowLock:    "FOR UPDATE",
	JSONArrayContains: func(column string) string {
		return "(" + column + ")::jsonb @> jsonb_build_array(?::text)"
	},
	Pipeline:   pipeline,
	RouteEpoch: `SELECT nextval('agent_route_epoch')`,
	NotifySQL:  notifySQL,

	// The throttles' transactions (sqlstore.DB.UpdateThrottles).
	NoSyncCommit: "SET LOCAL synchronous_commit = off",
}

// pipeline sends stmts as one pgx batch: pgx writes every statement and a
// single Sync, so the server runs them as one implicit transaction and
// answers in one round trip. Statements are prepared and cached per
// connection by pgx, like database/sql's prepared statements.
func pipeline(ctx context.Context, conn *sql.Conn, stmts []sqlstore.PipelinedStmt) error {
	return conn.Raw(func(driverConn any) error {
		c, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: pipeline on a %T connection", driverConn)
		}
		b := &pgx.Batch{}
		for _, s := range stmts {
			b.Queue(s.SQL, s.Args...)
		}
		br := c.Conn().SendBatch(ctx, b)
		for _, s := range stmts {
			if err := readResult(br, s); err != nil {
				_ = br.Close()
				return err
			}
		}
		return br.Close()
	})
}

func readResult(br pgx.BatchResults, s sqlstore.PipelinedStmt) error {
	if s.Rows == nil {
		_, err := br.Exec()
		return err
	}
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := s.Rows(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqlState returns a test for PostgreSQL errors with the given SQLSTATE.
func sqlState(code string) func(error) bool {
	return func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == code
	}
}

// Open connects to the database at url (postgres://user:pass@host:port/db?…;
// pgx passes unknown parameters such as search_path on as run-time
// settings), applies pending migrations and prepares the store. Error
// messages never include url, which may hold a password.
func Open(ctx context.Context, url string) (*sqlstore.DB, error) {
	return openStore(ctx, url, defaultListen)
}

// openStore is Open with the listener's heartbeat settings (tests shorten them).
func openStore(ctx context.Context, url string, lc listenConfig) (*sqlstore.DB, error) {
	pool, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(connMaxIdleTime)
	pool.SetConnMaxLifetime(connMaxLifetime)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := sqlstore.Migrate(ctx, pool, dialect); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	channel, err := noticeChannel(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db, err := sqlstore.New(ctx, dialect, pool, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := startListener(ctx, db, pool, url, channel, lc); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}

// OpenRaw returns a plain database/sql pool for url, without migrations or
// the store: for administrative statements in tests and benchmarks
// (creating and dropping schemas).
func OpenRaw(url string) (*sql.DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return db, nil
}
