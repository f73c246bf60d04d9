// Package sqlitetest opens migrated SQLite stores for tests quickly. The
// migrations run once per test binary, into a template database whose
// bytes every later store starts from. Under the race detector the
// transpiled SQLite parser (modernc.org/sqlite) makes a full migration
// cost about a second per store, and the card workflow tests open
// hundreds of stores.
//
// The migrations themselves are tested where they are defined
// (internal/store/sqlite, internal/store/migrations), from an empty file.
package sqlitetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/store/sqlstore"
)

var template struct {
	once sync.Once
	data []byte
	err  error
}

// Open opens the SQLite store at path as sqlite.Open does. When no file
// exists at path yet it first writes the migrated template there, so
// Open finds nothing to migrate; a file already there (a test reopening
// its store) is opened as it is.
func Open(ctx context.Context, path string) (*sqlstore.DB, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		data, err := migrated()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("sqlitetest: %w", err)
		}
	}
	return sqlite.Open(ctx, path)
}

// migrated returns the bytes of a database with every migration applied,
// building it on first use.
func migrated() ([]byte, error) {
	template.once.Do(func() {
		template.data, template.err = build()
	})
	return template.data, template.err
}

func build() ([]byte, error) {
	dir, err := os.MkdirTemp("", "lanyard-sqlitetest-")
	if err != nil {
		return nil, fmt.Errorf("sqlitetest: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("sqlitetest: template: %w", err)
	}
	// Closing the last connection checkpoints the write-ahead log into
	// the file and removes it; a log left behind would hold part of the
	// schema the copy lacks.
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("sqlitetest: template: %w", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, errors.New("sqlitetest: template: the write-ahead log was not checkpointed on close")
	}
	return os.ReadFile(path)
}
