package directory_test

import (
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

func TestDirectorySQLite(t *testing.T) {
	runCases(t, func(t *testing.T) lanyard.Store {
		st, err := sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
