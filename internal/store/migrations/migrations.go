// Package migrations embeds the numbered schema migrations of both storage
// engines. Each engine has its own SQL dialect, but the two directories
// carry the same numbers and names so that a database of either engine at
// version N has the same tables and the same meaning (migrations_test.go
// checks this).
//
// Files are named NNNN_description.sql and applied in numeric order by
// sqlstore.Migrate. A migration, once released, is never edited: changes go
// into a new file.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int64  // the NNNN prefix; 1-based and contiguous
	Name    string // file name, e.g. "0001_init.sql"
	SQL     string
}

// For returns the migrations of engine ("sqlite" or "postgres") in
// version order. It fails when a file name is malformed or the versions are
// not 1..n without gaps, so a bad migration set cannot reach a database.
func For(engine string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, engine)
	if err != nil {
		return nil, fmt.Errorf("migrations: unknown engine %q: %w", engine, err)
	}
	var out []Migration
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migrations: %s/%s: want NNNN_name.sql", engine, e.Name())
		}
		b, err := files.ReadFile(path.Join(engine, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	slices.SortFunc(out, func(a, b Migration) int { return int(a.Version - b.Version) })
	for i, m := range out {
		if m.Version != int64(i+1) {
			return nil, fmt.Errorf("migrations: %s: expected version %d, found %s", engine, i+1, m.Name)
		}
	}
	return out, nil
}
