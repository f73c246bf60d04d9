package sqlstore

import (
	"math"
	"strings"
)

// escapeLike escapes the LIKE wildcards in s for use with ESCAPE '\'.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// appendPage adds LIMIT/OFFSET for a list filter. A limit of 0 or less
// means no limit; SQLite needs a LIMIT before any OFFSET, so "no limit"
// with an offset is written as the largest limit.
func appendPage(q *strings.Builder, args []any, limit, offset int) []any {
	if limit <= 0 && offset <= 0 {
		return args
	}
	lim := int64(limit)
	if limit <= 0 {
		lim = math.MaxInt64
	}
	q.WriteString(` LIMIT ?`)
	args = append(args, lim)
	if offset > 0 {
		q.WriteString(` OFFSET ?`)
		args = append(args, int64(offset))
	}
	return args
}
