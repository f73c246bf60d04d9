// Package sqlstore implements lanyard.Store once, over database/sql, for
// every SQL engine Lanyard supports. The engines (internal/store/sqlite,
// internal/store/postgres) differ only in what a Dialect describes:
// placeholder syntax, how a unique violation is recognised, how writers of
// the audit chain are serialized, and a JSON membership test. Keeping one
// implementation is what lets one contract test suite (storetest) vouch for
// both.
//
// Conventions, shared with the migrations in internal/store/migrations:
//
//   - Times are stored as BIGINT Unix microseconds UTC (the zero time.Time
//     as 0) and come back in UTC. Create and Update methods normalise the
//     caller's struct the same way, so after a write the struct equals what
//     a later read returns.
//   - List fields (groups, roles, key algorithms, assignments …) are JSON
//     text columns. nil and empty lists are both stored as [] and read back
//     as empty, non-nil slices, so API output shows [] rather than null.
//     Nested documents (policy settings, template subject, PIN policy) are
//     encoding/json round trips.
//   - Byte fields come back nil when empty.
//   - Optional references (certificate user, card, request …) are NULL in
//     the database and 0 in Go.
//   - Update methods write every field except ID and CreatedAt, which are
//     fixed at creation.
//
// Transactions: one per View or Update call. A statement that fails in the
// database (a unique violation, a read-only violation, a lost connection)
// poisons the transaction: PostgreSQL aborts it anyway, and sqlstore makes
// SQLite behave the same, so later calls fail and Update rolls back and
// returns the first such error even if fn swallowed it. Look-ups that find
// nothing (ENotFound) do not poison. Do not call Update or View from inside
// fn: on SQLite the one writer connection is busy, and on PostgreSQL a
// nested writer could wait for the audit lock held by its parent.
package sqlstore
