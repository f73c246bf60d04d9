package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestMigrateCardSecrets: migration 0013 on cards issued before it.
func TestMigrateCardSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	raw := openRaw(t, path)
	storetest.MigrateCardSecrets(t, "sqlite", raw, func(q string) string { return q }, func() lanyard.Store {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestMigrateHeldPINs: migration 0015 erases the PIN copies of issue
// records written before it.
func TestMigrateHeldPINs(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	raw := openRaw(t, path)
	storetest.MigrateHeldPINs(t, "sqlite", raw, func(q string) string { return q }, func() lanyard.Store {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
