package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// The UPN migration resolves duplicates already in a database: the oldest
// user keeps the UPN, the later ones lose it and are listed for review in
// upn_duplicates_0009; from then on the index refuses new duplicates.
func TestUPNMigrationResolvesDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	raw := openRaw(t, path)
	ms := mustMigrations(t)
	upn := -1
	for i, m := range ms {
		if strings.HasSuffix(m.Name, "_upn_unique.sql") {
			upn = i
		}
	}
	if upn < 0 {
		t.Fatal("no *_upn_unique.sql migration")
	}
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:upn] {
		if _, err := raw.Exec(m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	// carol is the oldest holder of the UPN (created first, though inserted
	// last); bob and alice share it with her in other cases; dave's is his.
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, u := range []struct {
		login, upn string
		created    time.Duration
	}{
		{"alice", "Shared@Corp.Example", 2 * time.Hour},
		{"bob", "shared@corp.example", time.Hour},
		{"dave", "dave@corp.example", 0},
		{"carol", "SHARED@corp.example", 0},
		{"erin", "", 0},
		{"frank", "", 0},
	} {
		at := base.Add(u.created).UnixMicro()
		if _, err := raw.Exec(`INSERT INTO users (login, upn, created_at, updated_at) VALUES (?, ?, ?, ?)`, u.login, u.upn, at, at); err != nil {
			t.Fatal(err)
		}
	}

	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]string{"alice": "", "bob": "", "carol": "SHARED@corp.example", "dave": "dave@corp.example", "erin": "", "frank": ""}
	storetest.MustView(t, db, func(tx lanyard.Tx) error {
		for login, upn := range want {
			u, err := tx.UserByLogin(login)
			if err != nil {
				return err
			}
			if u.UPN != upn {
				t.Errorf("%s's UPN after the migration: %q, want %q", login, u.UPN, upn)
			}
		}
		return nil
	})
	rows, err := raw.Query(`SELECT d.login, d.upn, k.login FROM upn_duplicates_0009 d JOIN users k ON k.id = d.kept_by_id ORDER BY d.login`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var login, upn, keeper string
		if err := rows.Scan(&login, &upn, &keeper); err != nil {
			t.Fatal(err)
		}
		got = append(got, login+" "+upn+" kept by "+keeper)
	}
	if w := []string{"alice Shared@Corp.Example kept by carol", "bob shared@corp.example kept by carol"}; strings.Join(got, "; ") != strings.Join(w, "; ") {
		t.Errorf("upn_duplicates_0009: %q, want %q", got, w)
	}
	// The index itself refuses a duplicate written around the store.
	if _, err := raw.Exec(`UPDATE users SET upn = 'Dave@Corp.Example' WHERE login = 'erin'`); err == nil {
		t.Error("the database accepted a duplicate UPN in another case")
	}
}
