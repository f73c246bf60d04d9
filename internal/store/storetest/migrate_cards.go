package storetest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/migrations"
)

// MigrateCardSecrets checks migration 0013_card_secrets on data written
// before it (issue 13): raw is an empty database of engine, rebind turns ?
// into the engine's placeholders, open opens it as a store (migrating it
// to the newest version). It applies the migrations before 0013 by hand,
// writes cards issued before cards got their own PUK, and checks what the
// migration records: the PUK state of each, the CHUID GUID its management
// key is bound to, and that of two cards bound to one identifier only the
// first keeps it.
func MigrateCardSecrets(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0013_card_secrets.sql")
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('alice', 0, 0)`)
	guid := "00112233445566778899aabbccddeeff"
	legacy := hex.EncodeToString([]byte("guid:")) + guid
	cards := []struct {
		serial, state, ident, data string
	}{
		{"1", "issued", legacy, `{"plan":{"slots":[]},"puk_set":true,"pin_set":true}`},      // default PUK, key bound to the GUID
		{"2", "issued", "", `{"plan":{"slots":[],"custom_admin_pin":true},"puk_set":true}`}, // Admin PIN chosen at issue
		{"3", "clean", "", `{"plan":{"slots":[],"custom_admin_pin":true},"puk_set":true}`},  // cleared since: default again
		{"4", "clean", "", ""}, // never issued
		{"5", "issued", legacy, `{"plan":{"slots":[]},"puk_set":true}`},       // a second card with the first one's identity
		{"6", "pending", "", `{"plan":{"slots":[],"custom_admin_pin":true}}`}, // Admin PIN not set yet: default
	}
	for i, c := range cards {
		exec(`INSERT INTO cards (serial, card_type, owner_id, state, card_ident, admin_key_version, created_at, updated_at) VALUES (?, 'piv', 1, ?, ?, 1, 0, 0)`,
			c.serial, c.state, c.ident)
		if c.data != "" {
			exec(`INSERT INTO operations (kind, card_id, user_id, state, data, created_at, updated_at) VALUES ('issue', ?, 1, 'done', ?, 0, 0)`,
				i+1, []byte(c.data))
		}
	}
	s := open()
	want := []struct {
		puk         lanyard.PUKState
		guid, ident string
	}{
		{lanyard.PUKDefault, guid, legacy},
		{lanyard.PUKUnknown, "", ""},
		{lanyard.PUKDefault, "", ""},
		{lanyard.PUKFactory, "", ""},
		{lanyard.PUKDefault, "", "duplicate:5"},
		{lanyard.PUKDefault, "", ""},
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for i, w := range want {
			c, err := tx.CardByID(int64(i + 1))
			if err != nil {
				return err
			}
			if c.PUKState != w.puk || c.GUID != w.guid || c.CardID != w.ident {
				t.Errorf("card %s after the migration: PUK %q, GUID %q, identifier %q; want %q, %q, %q", c.Serial, c.PUKState, c.GUID, c.CardID, w.puk, w.guid, w.ident)
			}
		}
		return nil
	})
}

// migrateUpTo applies engine's migrations before the one named stop to
// the empty database raw, recording them as applied, and returns an exec
// for the test's own statements (? placeholders, rebound).
func migrateUpTo(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, stop string) func(q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	ms, err := migrations.For(engine)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, rebind(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
	for _, m := range ms {
		if m.Name == stop {
			return exec
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name)
	}
	t.Fatalf("no migration %s", stop)
	return nil
}

// MigrateRequestOperation checks migration 0015_request_operation: the CA
// requests card issues made before it are linked to their issue (found in
// the JSON record), and requests made through the certificate API
// stay unlinked.
func MigrateRequestOperation(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0015_request_operation.sql")
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('alice', 0, 0)`)
	exec(`INSERT INTO cards (serial, card_type, owner_id, state, created_at, updated_at) VALUES ('1', 'piv', 1, 'pending', 0, 0)`)
	for range 3 {
		exec(`INSERT INTO cert_requests (ca, template, user_id, status, created_at) VALUES ('builtin', 'logon', 1, 'pending', 0)`)
	}
	for _, data := range []string{
		`{"plan":{"slots":[]}}`,                            // an issue without requests
		`{"plan":{"slots":[]},"requests":{"9a":1,"9c":3}}`, // requests 1 and 3
		``, // an operation with no record yet
	} {
		exec(`INSERT INTO operations (kind, card_id, user_id, state, data, created_at, updated_at) VALUES ('issue', 1, 1, 'pending', ?, 0, 0)`, []byte(data))
	}
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		for id, want := range map[int64]int64{1: 2, 2: 0, 3: 2} {
			r, err := tx.RequestByID(id)
			if err != nil {
				return err
			}
			if r.OperationID != want {
				t.Errorf("request %d after the migration: operation %d, want %d", id, r.OperationID, want)
			}
		}
		return nil
	})
}
