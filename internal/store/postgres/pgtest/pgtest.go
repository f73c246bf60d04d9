// Package pgtest gives tests outside the store an empty PostgreSQL schema
// on the test server (LANYARD_TEST_POSTGRES, set by `make test`), so that
// what they check of the store holds on both engines. The tests fail
// rather than skip without the server.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvVar names the test server's URL.
const EnvVar = "LANYARD_TEST_POSTGRES"

// ServerURL is the test server.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		tb.Fatal(EnvVar + " is not set: run `make test`, which starts PostgreSQL and sets it " +
			"(or: " + EnvVar + "=$(scripts/postgres-test.sh) go test -tags integration ./internal/store/postgres/)")
	}
	return u
}

// FreshSchema creates an empty schema with a random name, dropped when tb
// ends, and returns the server URL with search_path set to it: every test
// gets its own tables, and tests can run in parallel.
func FreshSchema(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", EnvVar, err)
	}
	schema := "lanyard_test_" + strings.ToLower(rand.Text()[:16]) // base32: letters and digits
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Tests need no durability; not waiting for the WAL flush on each
	// commit keeps the suite fast. Visibility and locking are unchanged.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}
