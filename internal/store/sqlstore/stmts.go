package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// stmt names a statement that is prepared once per pool when the store
// opens, so the hot paths (issuing certificates, appending audit events,
// authenticating tokens) never parse SQL. database/sql then keeps one
// prepared copy per connection and re-prepares transparently on new ones.
//
// Statements must be prepared before any transaction runs: on SQLite the
// single writer connection is held by the transaction, and preparing on
// the pool would wait for it forever.
type stmt int

// stmtText is the registry, filled by package-level calls to prepared.
// It is read-only once the package is initialised.
var stmtText []string

// prepared registers q (written with ? placeholders) for preparation.
func prepared(q string) stmt {
	stmtText = append(stmtText, q)
	return stmt(len(stmtText) - 1)
}

// prepareAll prepares every registered statement on pool.
func prepareAll(ctx context.Context, pool *sql.DB, d *Dialect) ([]*sql.Stmt, error) {
	out := make([]*sql.Stmt, len(stmtText))
	for i, q := range stmtText {
		s, err := pool.PrepareContext(ctx, d.Rebind(q))
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		out[i] = s
	}
	return out, nil
}

func closeAll(stmts []*sql.Stmt) {
	for _, s := range stmts {
		if s != nil {
			s.Close()
		}
	}
}
