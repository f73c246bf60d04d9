package sqlite

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/migrations"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

func openTemp(t *testing.T) lanyard.Store {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, openTemp)
}

// Two handles on one file behave like two server processes: BEGIN
// IMMEDIATE and busy_timeout keep the audit chain linear across them.
func TestTwoHandlesOneChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	storetest.ConcurrentAppends(t, 4, 20, a, b)
}

func TestOpenDirCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db, err := OpenDir(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustCreateUser(t, db, "alice") // makes SQLite create the -wal file
	for name, want := range map[string]os.FileMode{"": 0o700 | os.ModeDir, FileName: 0o600, FileName + "-wal": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Join(dir, name), fi.Mode(), want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// Reopening applies no migration twice and keeps the data.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.MustCreateUser(t, db, "alice")
	db.Close()

	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.MustView(t, db, func(tx lanyard.Tx) error {
		_, err := tx.UserByID(alice.ID)
		return err
	})
	raw := openRaw(t, path)
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(mustMigrations(t)); n != want {
		t.Errorf("schema_migrations has %d rows, want %d", n, want)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := openRaw(t, path).Exec(`INSERT INTO schema_migrations VALUES (?, '9999_future.sql', 0)`, len(mustMigrations(t))+1); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("Open accepted a database migrated by a newer build")
	}
}

// The database itself refuses to change or delete audit events.
func TestAuditAppendOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.MustUpdate(t, db, func(tx lanyard.Tx) error {
		return tx.AppendAudit(storetest.NewEvent("alice", "user.create", "user", "bob", 0))
	})
	raw := openRaw(t, path)
	for _, q := range []string{`UPDATE audit_events SET actor = 'mallory'`, `DELETE FROM audit_events`} {
		if _, err := raw.Exec(q); err == nil {
			t.Errorf("%s succeeded", q)
		}
	}
	storetest.CheckAuditChain(t, db)
}

func TestOpenRejectsURIs(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=ro"} {
		if db, err := Open(t.Context(), p); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkIssue(b, db, 16)
}

// openRaw opens path without the store, as another program would.
func openRaw(t *testing.T, path string) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

func BenchmarkIssueBatched(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkIssueBatched(b, db, 32)
}

// mustMigrations returns this engine's embedded migrations.
func mustMigrations(t *testing.T) []migrations.Migration {
	t.Helper()
	ms, err := migrations.For("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// The migration that empties delivered bodies (issue 13), applied to a
// database that kept them.
func TestMailContentMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MailMigration(t, db, func() lanyard.Store {
		db.Close()
		if _, err := openRaw(t, path).Exec(storetest.MigrationSQL(t, "sqlite", "_mail_content_cleared.sql")); err != nil {
			t.Fatal(err)
		}
		db, err = Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestThrottles runs the throttle contract on throttles kept in SQLite.
func TestThrottles(t *testing.T) {
	storetest.RunThrottles(t, openTemp)
}

// Two handles on one file share their throttles exactly, as two server
// processes would.
func TestThrottleTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	storetest.ThrottleReplicas(t, a, b)
}

// BenchmarkThrottleAttempt: what a throttle kept in SQLite would add to
// each login (lanyard serve keeps SQLite's throttles in memory;
// docs/security.md).
func BenchmarkThrottleAttempt(b *testing.B) {
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), FileName))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkThrottleAttempt(b, db)
}
