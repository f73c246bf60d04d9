package sqlstore

import (
	"bytes"
	"context"
	"database/sql/driver"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The guess throttles' rows (migration 0040; internal/auth keeps its
// entries here when a cluster shares them). A row is locked by upserting
// it: a missing key gets a placeholder row with an empty value, so that
// a key nobody has tried yet is locked as well as one with a row — two
// replicas beginning the first attempts on a new key wait for each other
// instead of both seeing room. On PostgreSQL the upsert takes the row
// lock until the transaction ends; SQLite has one writer at a time.
var (
	qLockThrottle = prepared(`INSERT INTO throttles (key_hash, value, expires_at) VALUES (?, ?, 0)
		ON CONFLICT (key_hash) DO UPDATE SET value = throttles.value RETURNING value, expires_at`)
	qPutThrottle    = prepared(`UPDATE throttles SET value = ?, expires_at = ? WHERE key_hash = ?`)
	qDeleteThrottle = prepared(`DELETE FROM throttles WHERE key_hash = ?`)
	qCountThrottles = prepared(`SELECT count(*) FROM throttles`)
)

var _ lanyard.ThrottleStore = (*DB)(nil)

// UpdateThrottles implements lanyard.ThrottleStore: one transaction on
// the write pool, the rows locked in the order of their keys so that two
// calls on overlapping keys never wait for each other crosswise.
func (db *DB) UpdateThrottles(ctx context.Context, keys [][]byte, fn func(rows []lanyard.ThrottleRow) error) error {
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	if db.d.Pipeline != nil {
		return db.updateThrottlesPipelined(ctx, keys, order, fn)
	}
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
	}
	defer func() { _ = sqlTx.Rollback() }()
	if db.d.NoSyncCommit != "" {
		// A throttle's state is worth the wait for the disk on no
		// commit: a crash that forgets the last moments' failures gives
		// an attacker a few guesses more, once, and the next commits'
		// flushes take these along anyway.
		if _, err := sqlTx.ExecContext(ctx, db.d.NoSyncCommit); err != nil {
			return dbError(err)
		}
	}
	t := newTxn(ctx, &db.d, sqlTx, db.wstmts)
	rows := make([]lanyard.ThrottleRow, len(keys))
	for _, i := range order {
		var value []byte
		var expires int64
		if err := t.row(qLockThrottle, keys[i], []byte{}).Scan(&value, &expires); err != nil {
			return t.readErr(err, nil)
		}
		rows[i] = lanyard.ThrottleRow{Value: bytesOut(value), ExpiresAt: fromMicros(expires)}
	}
	if err := fn(rows); err != nil {
		return err
	}
	for _, i := range order {
		var err error
		if rows[i].Value == nil {
			_, err = t.exec(qDeleteThrottle, keys[i])
		} else {
			_, err = t.exec(qPutThrottle, rows[i].Value, micros(normTime(rows[i].ExpiresAt)), keys[i])
		}
		if err != nil {
			return t.writeErr(err, "", "")
		}
	}
	if err := sqlTx.Commit(); err != nil {
		return dbError(err)
	}
	return nil
}

// updateThrottlesPipelined is UpdateThrottles in two round trips, on an
// engine that pipelines statements (PostgreSQL): BEGIN and the locking
// reads in one, the writes and COMMIT in the other. A login's throttle
// checks thus cost two round trips each instead of seven, which matters
// when a flood of logins keeps the CPUs busy hashing passwords and every
// round trip waits for a turn.
func (db *DB) updateThrottlesPipelined(ctx context.Context, keys [][]byte, order []int, fn func([]lanyard.ThrottleRow) error) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "database unavailable")
	}
	defer conn.Close()
	open := true
	defer func() {
		if open {
			// Ends the transaction whatever state it is in (a ROLLBACK
			// outside one is only a warning); a connection that cannot
			// even do that is discarded, never reused mid-transaction.
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
	}()
	rows := make([]lanyard.ThrottleRow, len(keys))
	stmts := []PipelinedStmt{{SQL: "BEGIN"}}
	if db.d.NoSyncCommit != "" {
		stmts = append(stmts, PipelinedStmt{SQL: db.d.NoSyncCommit})
	}
	lock := db.d.Rebind(stmtText[qLockThrottle])
	for _, i := range order {
		stmts = append(stmts, PipelinedStmt{SQL: lock, Args: []any{keys[i], []byte{}}, Rows: func(scan func(...any) error) error {
			var value []byte
			var expires int64
			if err := scan(&value, &expires); err != nil {
				return err
			}
			rows[i] = lanyard.ThrottleRow{Value: bytesOut(value), ExpiresAt: fromMicros(expires)}
			return nil
		}})
	}
	if err := db.d.Pipeline(ctx, conn, stmts); err != nil {
		return dbError(err)
	}
	if err := fn(rows); err != nil {
		return err
	}
	stmts = stmts[:0]
	put, del := db.d.Rebind(stmtText[qPutThrottle]), db.d.Rebind(stmtText[qDeleteThrottle])
	for _, i := range order {
		if rows[i].Value == nil {
			stmts = append(stmts, PipelinedStmt{SQL: del, Args: []any{keys[i]}})
		} else {
			stmts = append(stmts, PipelinedStmt{SQL: put, Args: []any{rows[i].Value, micros(normTime(rows[i].ExpiresAt)), keys[i]}})
		}
	}
	stmts = append(stmts, PipelinedStmt{SQL: "COMMIT"})
	if err := db.d.Pipeline(ctx, conn, stmts); err != nil {
		return dbError(err)
	}
	open = false
	return nil
}

// PurgeThrottles implements lanyard.ThrottleStore. It skips the rows
// other transactions hold (PostgreSQL: SKIP LOCKED), so it never waits for
// a throttle's transaction, and one locking two keys never deadlocks
// with it; those rows go at the next purge.
func (db *DB) PurgeThrottles(ctx context.Context, now time.Time) (int64, error) {
	q := `DELETE FROM throttles WHERE key_hash IN (SELECT key_hash FROM throttles WHERE expires_at <= ? ` + db.d.SkipLocked + `)`
	res, err := db.write.ExecContext(ctx, db.d.Rebind(q), micros(normTime(now)))
	if err != nil {
		return 0, dbError(err)
	}
	return res.RowsAffected()
}

// CountThrottles implements lanyard.ThrottleStore.
func (db *DB) CountThrottles(ctx context.Context) (int64, error) {
	var n int64
	if err := db.rstmts[qCountThrottles].QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, dbError(err)
	}
	return n, nil
}
