package storetest

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/migrations"
)

// UPNMigration checks the UPN migration (*_upn_unique.sql) of engine on a
// database that already holds duplicate UPNs: the oldest user keeps the
// UPN, the later ones lose it and are listed in upn_duplicates_0009, and
// from then on the database refuses a duplicate in any case; the UPNs
// held then stay with their holders (upn_history). raw is a
// connection to an empty database; open opens the store on it, which
// applies the remaining migrations.
func UPNMigration(t *testing.T, engine string, raw *sql.DB, open func() lanyard.Store) {
	ms, err := migrations.For(engine)
	if err != nil {
		t.Fatal(err)
	}
	upn := -1
	for i, m := range ms {
		if strings.HasSuffix(m.Name, "_upn_unique.sql") {
			upn = i
		}
	}
	if upn < 0 {
		t.Fatal("no *_upn_unique.sql migration")
	}
	// The statements carry literal values: the two engines' drivers take
	// different placeholders, and these values are the test's own.
	mustExec := func(q string) {
		t.Helper()
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	for _, m := range ms[:upn] {
		mustExec(m.SQL)
		mustExec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, m.Version, m.Name))
	}
	// carol is the oldest holder of the UPN (created first, though
	// inserted last); bob and alice share it with her in other cases;
	// dave's is his own.
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
		at := t0.Add(u.created).UnixMicro()
		mustExec(fmt.Sprintf(`INSERT INTO users (login, upn, created_at, updated_at) VALUES ('%s', '%s', %d, %d)`, u.login, u.upn, at, at))
	}

	s := open()
	defer s.Close()
	want := map[string]string{"alice": "", "bob": "", "carol": "SHARED@corp.example", "dave": "dave@corp.example", "erin": "", "frank": ""}
	MustView(t, s, func(tx lanyard.Tx) error {
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
	// The UPNs held at the migration stay with their holders
	// (upn_history, 0014): carol gives hers up, erin cannot take it.
	var carol, erin *lanyard.User
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		if carol, err = tx.UserByLogin("carol"); err != nil {
			return err
		}
		carol.UPN = ""
		if err = tx.UpdateUser(carol); err != nil {
			return err
		}
		erin, err = tx.UserByLogin("erin")
		return err
	})
	erin.UPN = "shared@corp.example"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateUser(erin) })
	wantMessage(t, "erin takes the UPN carol held at the migration", err, `UPN "shared@corp.example" belonged to another user`)
}
