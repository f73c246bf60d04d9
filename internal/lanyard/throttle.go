package lanyard

import (
	"context"
	"time"
)

// ThrottleStore keeps the state of the guess throttles (internal/auth:
// logins, codes, answers, pairing requests) where every server replica
// reads and changes it, so that N replicas give an attacker no more
// guesses than one. Both engines' stores implement it; it is not part of
// Tx because a throttle's change is not an audited state change and must
// not wait for one: each call is a short transaction of its own.
//
// Keys are keyed hashes of the throttle keys (which hold logins and
// client addresses), values are opaque to the store.
type ThrottleStore interface {
	// UpdateThrottles reads the rows of keys (distinct), each locked
	// against every other UpdateThrottles until it returns — a key
	// without a row reads as a zero ThrottleRow and is locked all the
	// same — calls fn with them, and writes back what fn left in rows: a
	// nil Value deletes the row. It is one transaction: if fn fails,
	// nothing changes and its error is returned.
	UpdateThrottles(ctx context.Context, keys [][]byte, fn func(rows []ThrottleRow) error) error
	// PurgeThrottles deletes the rows that expired at or before now and
	// returns how many.
	PurgeThrottles(ctx context.Context, now time.Time) (int64, error)
	// CountThrottles returns the number of rows, for metrics and tests.
	CountThrottles(ctx context.Context) (int64, error)
}

// ThrottleRow is one throttle key's state.
type ThrottleRow struct {
	Value []byte // nil: no row
	// ExpiresAt is when the row stops mattering; PurgeThrottles deletes
	// it then.
	ExpiresAt time.Time
}
