package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// migrationTest runs check on a new empty database: raw to write what
// earlier versions wrote, open to open it as a store (migrating it).
func migrationTest(t *testing.T, check func(*testing.T, string, *sql.DB, func(string) string, func() lanyard.Store)) {
	path := filepath.Join(t.TempDir(), FileName)
	raw := openRaw(t, path)
	check(t, "sqlite", raw, func(q string) string { return q }, func() lanyard.Store {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestMigrateCardSecrets: migration 0013 on cards issued before it.
func TestMigrateCardSecrets(t *testing.T) { migrationTest(t, storetest.MigrateCardSecrets) }

// TestMigrateRequestOperation: migration 0015 on requests made before it.
func TestMigrateRequestOperation(t *testing.T) { migrationTest(t, storetest.MigrateRequestOperation) }
