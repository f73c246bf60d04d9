//go:build integration

package postgres

import (
	"database/sql"
	"strconv"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// migrationTest runs check on a fresh schema: raw to write what earlier
// versions wrote, open to open it as a store (migrating it).
func migrationTest(t *testing.T, check func(*testing.T, string, *sql.DB, func(string) string, func() lanyard.Store)) {
	u := freshSchema(t)
	raw, err := OpenRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	rebind := func(q string) string {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				b.WriteString("$" + strconv.Itoa(n))
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	check(t, "postgres", raw, rebind, func() lanyard.Store {
		db, err := Open(t.Context(), u)
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
