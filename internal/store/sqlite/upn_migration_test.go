package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

func TestUPNMigrationResolvesDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	storetest.UPNMigration(t, "sqlite", openRaw(t, path), func() lanyard.Store {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// Migration 0011 caps the lifetime of the tokens made before it.
func TestTokenClipMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.TokenClipMigration(t, "sqlite", db, func(sql string) {
		if _, err := openRaw(t, path).Exec(sql); err != nil {
			t.Fatal(err)
		}
	})
}
