package sqlitetest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// A store opened from the template is fully migrated and independent of
// every other: what one test writes, the next does not see.
func TestOpenGivesFreshMigratedStores(t *testing.T) {
	ctx := context.Background()
	first := filepath.Join(t.TempDir(), "a.db")
	db, err := sqlitetest.Open(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx lanyard.Tx) error {
		return tx.CreateUser(&lanyard.User{Login: "alice", Roles: []lanyard.Role{lanyard.RoleUser}})
	})
	if err != nil {
		t.Fatalf("a store from the template cannot take a user (not migrated?): %v", err)
	}
	db.Close()

	// Reopening an existing file keeps its contents.
	db, err = sqlitetest.Open(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(ctx, func(tx lanyard.Tx) error { _, err := tx.UserByLogin("alice"); return err }); err != nil {
		t.Fatalf("reopened store lost its user: %v", err)
	}

	other, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.View(ctx, func(tx lanyard.Tx) error { _, err := tx.UserByLogin("alice"); return err }); err == nil {
		t.Fatal("a new store sees a user written to another")
	}
}
