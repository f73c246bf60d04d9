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

// TestMigrateCardSecrets: migration 0013 on cards issued before it.
func TestMigrateCardSecrets(t *testing.T) { migrateOld(t, storetest.MigrateCardSecrets) }

// TestMigrateHeldPINs: migration 0016 erases the PIN copies of issue
// records written before it.
func TestMigrateHeldPINs(t *testing.T) { migrateOld(t, storetest.MigrateHeldPINs) }

// TestMigrateCardPermissions: migration 0017 gives policies saved before
// it the issued card operations and administrator permissions.
func TestMigrateCardPermissions(t *testing.T) { migrateOld(t, storetest.MigrateCardPermissions) }

// TestMigrateReplacementOwner: migration 0025 gives the replacements
// recorded before it their owner, and ends those of cards that changed
// hands.
func TestMigrateReplacementOwner(t *testing.T) { migrateOld(t, storetest.MigrateReplacementOwner) }

// TestMigrateKeyArchival: migration 0026 turns archive key off on the
// templates saved before the rule that break it.
func TestMigrateKeyArchival(t *testing.T) { migrateOld(t, storetest.MigrateKeyArchival) }

// TestMigrateRenewalKey: migration 0028 gives the templates saved before
// it the new-key renewal.
func TestMigrateRenewalKey(t *testing.T) { migrateOld(t, storetest.MigrateRenewalKey) }

// TestMigrateKeyRecoveryChecks: migration 0030 gives the key recovery
// requests made before it their owner's e-mail address and an expiry.
func TestMigrateKeyRecoveryChecks(t *testing.T) { migrateOld(t, storetest.MigrateKeyRecoveryChecks) }

// TestMigrateRequestOperation: migration 0015 on requests made before it.
func TestMigrateRequestOperation(t *testing.T) { migrateOld(t, storetest.MigrateRequestOperation) }

// migrateOld runs a storetest migration check on a fresh schema.
func migrateOld(t *testing.T, check func(*testing.T, string, *sql.DB, func(string) string, func() lanyard.Store)) {
	u := freshSchema(t)
	raw, err := OpenRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	check(t, "postgres", raw, rebind, func() lanyard.Store {
		db, err := Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// rebind turns ? placeholders into PostgreSQL's $n.
func rebind(q string) string {
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
