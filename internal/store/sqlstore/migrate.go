package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lanyard-cms/lanyard/internal/store/migrations"
)

// Migrate brings the schema of pool up to date with the migrations embedded
// for d.Name. Each migration runs in its own transaction together with its
// row in schema_migrations, so a failed migration leaves the previous
// version intact (both engines have transactional DDL). The dialect's
// MigrationLock, taken at the start of each transaction, makes replicas
// that start together take turns; SQLite's BEGIN IMMEDIATE does the same.
//
// A database whose recorded migrations are newer than, or named
// differently from, the embedded ones is refused: running old code on a
// newer schema, or on a schema from an edited migration, corrupts data.
func Migrate(ctx context.Context, pool *sql.DB, d Dialect) error {
	ms, err := migrations.For(d.Name)
	if err != nil {
		return err
	}
	for {
		done, err := migrateNext(ctx, pool, &d, ms)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateNext applies the first pending migration, or reports that none is
// pending.
func migrateNext(ctx context.Context, pool *sql.DB, d *Dialect, ms []migrations.Migration) (done bool, err error) {
	tx, err := pool.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if d.MigrationLock != "" {
		if _, err := tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT NOT NULL PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL -- Unix microseconds UTC
	)`); err != nil {
		return false, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := appliedMigrations(ctx, tx)
	if err != nil {
		return false, err
	}
	for i, name := range applied {
		if i >= len(ms) {
			return false, fmt.Errorf("migrate: the database has migration %d (%s), newer than this build knows (%d)", i+1, name, len(ms))
		}
		if ms[i].Name != name {
			return false, fmt.Errorf("migrate: database migration %d is %s, this build has %s", i+1, name, ms[i].Name)
		}
	}
	if len(applied) == len(ms) {
		return true, tx.Commit()
	}
	m := ms[len(applied)]
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrate: %s/%s: %w", d.Name, m.Name, err)
	}
	if _, err := tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
		m.Version, m.Name, time.Now().UnixMicro()); err != nil {
		return false, fmt.Errorf("migrate: record %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate: commit %s: %w", m.Name, err)
	}
	return false, nil
}

// appliedMigrations returns the recorded migration names in version order;
// versions must be 1..n without gaps.
func appliedMigrations(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var v int64
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		if v != int64(len(names)+1) {
			return nil, fmt.Errorf("migrate: schema_migrations has version %d where %d was expected", v, len(names)+1)
		}
		names = append(names, name)
	}
	return names, rows.Err()
}
