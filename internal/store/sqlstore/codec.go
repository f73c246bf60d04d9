package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// normTime is what the store keeps of t: UTC, microseconds. The zero time
// stays zero (it is stored as 0).
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// micros encodes t for a BIGINT column.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromMicros decodes a BIGINT column; 0 is the zero time.
func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// blob encodes a byte field for a NOT NULL BLOB/BYTEA column: drivers bind
// a nil slice as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// bytesOut decodes a byte field: empty is nil.
func bytesOut(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ref encodes an optional reference: 0 is NULL, so foreign keys hold.
func ref(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// refOut decodes an optional reference.
func refOut(v sql.NullInt64) int64 { return v.Int64 }

// jsonList encodes a list field; nil and empty are both [].
func jsonList[S ~[]E, E any](v S) (string, error) {
	if len(v) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "cannot encode list")
	}
	return string(b), nil
}

// listOut decodes a list field into a non-nil slice.
func listOut[S ~[]E, E any](s, column string) (S, error) {
	out := S{}
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, dbError(fmt.Errorf("column %s: %w", column, err))
	}
	if out == nil { // the column held null
		out = S{}
	}
	return out, nil
}

// jsonDoc encodes a nested document (settings, subject, PIN policy).
func jsonDoc(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "cannot encode document")
	}
	return string(b), nil
}

// docOut decodes a nested document.
func docOut(s, column string, v any) error {
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return dbError(fmt.Errorf("column %s: %w", column, err))
	}
	return nil
}

// nonNil returns s, or an empty slice when s is nil: the store never
// returns nil lists.
func nonNil[S ~[]E, E any](s S) S {
	if s == nil {
		return S{}
	}
	return s
}

// quote formats a name for a message the way %q does.
func quote(s string) string { return strconv.Quote(s) }
