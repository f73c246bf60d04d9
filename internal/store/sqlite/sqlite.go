// Package sqlite is Lanyard's embedded storage engine: SQLite through the
// pure-Go modernc.org/sqlite driver (no cgo), the default for single-server
// installations. It supplies the dialect and connection setup; the store
// itself is sqlstore.
//
// Durability and concurrency: the database runs in WAL mode with
// synchronous=FULL, so a committed Update survives power loss. Update uses
// a pool of exactly one connection that begins transactions IMMEDIATE:
// writers queue inside the process, and another process writing the same
// file waits on the lock (busy_timeout) instead of failing halfway. View
// uses a separate query-only pool, so reads run in parallel with the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lanyard-cms/lanyard/internal/store/sqlstore"
)

// FileName is the database file OpenDir uses inside a data directory.
const FileName = "lanyard.db"

// Connection settings. busy_timeout is how long a connection waits for
// another process's lock before failing with SQLITE_BUSY.
const (
	writeParams = "_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)"
	readParams  = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=query_only(1)"
)

// dialect describes SQLite to sqlstore. Writers are serialized by the
// engine, so the audit chain needs no extra lock.
var dialect = sqlstore.Dialect{
	Name: "sqlite",
	IsUniqueViolation: func(err error) bool {
		return hasCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
	},
	IsForeignKeyViolation: func(err error) bool {
		return hasCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
	},
	JSONArrayContains: func(column string) string {
		return "EXISTS (SELECT 1 FROM json_each(" + column + ") WHERE json_each.value = ?)"
	},
	RouteEpoch: `UPDATE agent_route_epoch SET value = value + 1 WHERE one = 1 RETURNING value`,
}

// hasCode reports whether err is a SQLite error with one of the extended
// result codes (the driver enables extended codes on every connection).
func hasCode(err error, codes ...int) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code() == c {
			return true
		}
	}
	return false
}

// OpenDir opens the database FileName inside dataDir, creating the
// directory (mode 0700) and the database (mode 0600) when missing: the
// database holds sealed keys and password hashes, which only the server's
// user should be able to read.
func OpenDir(ctx context.Context, dataDir string) (*sqlstore.DB, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return Open(ctx, filepath.Join(dataDir, FileName))
}

// Open opens (creating if needed, mode 0600) the database file at path and
// applies pending migrations. SQLite creates the -wal and -shm files with
// the database file's mode, so they stay private too.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: %q: want a plain file path", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	f.Close()

	write, err := sql.Open("sqlite", path+"?"+writeParams)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, write, dialect); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}

	read, err := sql.Open("sqlite", path+"?"+readParams)
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)

	db, err := sqlstore.New(ctx, dialect, write, read)
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", path, err)
	}
	return db, nil
}
