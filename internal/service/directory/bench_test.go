package directory_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// benchEnv is a SQLite service with a source and n directory users
// already synced (one full sync), in 2,000 groups' worth of DNs.
func benchEnv(b *testing.B, n int) (*env, []directory.Entry) {
	st, err := sqlitetest.Open(b.Context(), filepath.Join(b.TempDir(), "lanyard.db"))
	if err != nil {
		b.Fatal(err)
	}
	e := newEnvTB(b, st)
	entries := make([]directory.Entry, n)
	for i := range entries {
		entries[i] = entry(fmt.Sprintf("u%06d", i), fmt.Sprintf("g-%06d", i),
			fmt.Sprintf("cn=g%04d,ou=groups,dc=example,dc=test", i%2000), fmt.Sprintf("cn=g%04d,ou=groups,dc=example,dc=test", (i*7)%2000))
	}
	return e, entries
}

// BenchmarkSyncFull applies a full read of 50,000 users to an empty
// store: what the sync adds to the directory read itself
// (docs/performance.md; the read is internal/directory's benchmark).
func BenchmarkSyncFull(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		e, entries := benchEnv(b, 50000)
		e.r.full = &directory.Snapshot{Entries: entries, State: "s1"}
		b.StartTimer()
		rep, err := e.dir.Sync(b.Context(), e.admin, e.src.ID, false)
		if err != nil || rep.Created != len(entries) {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}

// BenchmarkSyncIncremental100 applies 100 changed users to a store that
// holds 50,000: its cost follows the changes, not the directory's size.
func BenchmarkSyncIncremental100(b *testing.B) {
	e, entries := benchEnv(b, 50000)
	e.r.full = &directory.Snapshot{Entries: entries, State: "s1"}
	if _, err := e.dir.Sync(b.Context(), e.admin, e.src.ID, false); err != nil {
		b.Fatal(err)
	}
	round := 0
	for b.Loop() {
		round++
		changed := make([]directory.Entry, 100)
		for i := range changed {
			changed[i] = entries[i*499]
			changed[i].DisplayName = fmt.Sprintf("Renamed %d", round)
		}
		e.r.delta = &directory.Delta{Changed: changed, State: fmt.Sprint("s", round)}
		rep, err := e.dir.Sync(b.Context(), e.admin, e.src.ID, false)
		if err != nil || rep.Updated != 100 {
			b.Fatalf("%v %+v", err, rep)
		}
	}
}
