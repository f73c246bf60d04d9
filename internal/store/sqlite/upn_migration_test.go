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
