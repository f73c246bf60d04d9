//go:build integration

package postgres

import (
	"database/sql"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/migrations"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// freshSchema: see pgtest.
func freshSchema(tb testing.TB) string { return pgtest.FreshSchema(tb) }

func open(tb testing.TB, url string) lanyard.Store {
	tb.Helper()
	db, err := Open(tb.Context(), url)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) lanyard.Store { return open(t, freshSchema(t)) })
}

// Two stores on one database act as two server replicas: the advisory
// lock keeps their audit appends on one linear chain.
func TestTwoReplicasOneChain(t *testing.T) {
	u := freshSchema(t)
	a, b := open(t, u), open(t, u)
	defer a.Close()
	defer b.Close()
	storetest.ConcurrentAppends(t, 8, 20, a, b)
}

// Replicas starting together migrate once, one after the other.
func TestConcurrentMigrations(t *testing.T) {
	u := freshSchema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			db, err := Open(t.Context(), u)
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		})
	}
	wg.Wait()
	var n int
	if err := raw(t, u).QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(mustMigrations(t)); n != want {
		t.Errorf("schema_migrations has %d rows, want %d", n, want)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	u := freshSchema(t)
	open(t, u).Close()
	if _, err := raw(t, u).Exec(`INSERT INTO schema_migrations VALUES ($1, '9999_future.sql', 0)`, len(mustMigrations(t))+1); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(t.Context(), u); err == nil {
		db.Close()
		t.Fatal("Open accepted a database migrated by a newer build")
	}
}

// The database itself refuses to change or delete audit events.
func TestAuditAppendOnly(t *testing.T) {
	u := freshSchema(t)
	db := open(t, u)
	defer db.Close()
	storetest.MustUpdate(t, db, func(tx lanyard.Tx) error {
		return tx.AppendAudit(storetest.NewEvent("alice", "user.create", "user", "bob", 0))
	})
	for _, q := range []string{`UPDATE audit_events SET actor = 'mallory'`, `DELETE FROM audit_events`, `TRUNCATE audit_events`} {
		if _, err := raw(t, u).Exec(q); err == nil {
			t.Errorf("%s succeeded", q)
		}
	}
	storetest.CheckAuditChain(t, db)
}

func BenchmarkIssue(b *testing.B) {
	db := open(b, freshSchema(b))
	defer db.Close()
	storetest.BenchmarkIssue(b, db, 16)
}

func raw(tb testing.TB, url string) *sql.DB {
	tb.Helper()
	db, err := OpenRaw(url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func BenchmarkIssueBatched(b *testing.B) {
	db := open(b, freshSchema(b))
	defer db.Close()
	storetest.BenchmarkIssueBatched(b, db, 32)
}

// The group commit's pipeline is taken once the chain head is known, and a
// head that moved under it — another replica appended, or the newest
// events vanished (a restore from backup) — sends the batch through the
// locked path instead of forking or gapping the chain.
func TestCreateIssuedPipeline(t *testing.T) {
	u := freshSchema(t)
	a, err := Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := open(t, u)
	defer b.Close()
	user := storetest.MustCreateUser(t, a, "issuer")
	issue := func(prefix string) {
		t.Helper()
		certs, events := storetest.IssuedBatch(prefix, user.ID, 40)
		if err := a.CreateIssued(t.Context(), certs, events); err != nil {
			t.Fatal(err)
		}
		storetest.CheckIssued(t, a, certs, events)
	}
	issue("a")
	issue("b")
	if n := a.PipelinedCommits(); n < 1 {
		t.Fatalf("%d batches went through the pipeline, want at least 1", n)
	}

	storetest.MustUpdate(t, b, func(tx lanyard.Tx) error {
		return tx.AppendAudit(storetest.NewEvent("replica-b", "user.update", "user", "x", 0))
	})
	before := a.PipelinedCommits()
	issue("c")
	if a.PipelinedCommits() != before {
		t.Fatal("a batch linked to a stale head committed through the pipeline")
	}

	issue("d") // primes the head again
	r := raw(t, u)
	for _, q := range []string{
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change`,
		`DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)`,
		`ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change`,
	} {
		if _, err := r.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	before = a.PipelinedCommits()
	issue("e")
	if a.PipelinedCommits() != before {
		t.Fatal("a batch linked to a vanished head committed through the pipeline")
	}
}

// mustMigrations returns this engine's embedded migrations.
func mustMigrations(t *testing.T) []migrations.Migration {
	t.Helper()
	ms, err := migrations.For("postgres")
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestUPNMigrationResolvesDuplicates(t *testing.T) {
	u := freshSchema(t)
	storetest.UPNMigration(t, "postgres", raw(t, u), func() lanyard.Store { return open(t, u) })
}

// The migration that empties delivered bodies (issue 13), applied to a
// database that kept them.
func TestMailContentMigration(t *testing.T) {
	u := freshSchema(t)
	db := open(t, u)
	storetest.MailMigration(t, db, func() lanyard.Store {
		db.Close()
		if _, err := raw(t, u).Exec(storetest.MigrationSQL(t, "postgres", "_mail_content_cleared.sql")); err != nil {
			t.Fatal(err)
		}
		db = open(t, u)
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// Migration 0011 caps the lifetime of the tokens made before it.
func TestTokenClipMigration(t *testing.T) {
	u := freshSchema(t)
	db := open(t, u)
	defer db.Close()
	storetest.TokenClipMigration(t, "postgres", db, func(sql string) {
		if _, err := raw(t, u).Exec(sql); err != nil {
			t.Fatal(err)
		}
	})
}

// LockOIDCLogins serializes count-then-insert: a transaction that takes
// the lock while another holds it waits for its commit, and then counts
// the other's sign-in (under READ COMMITTED without the lock it would
// count none and both would pass a cap of one).
func TestOIDCLoginLock(t *testing.T) {
	s := open(t, freshSchema(t))
	defer s.Close()
	p := storetest.NewOIDCProvider("corp")
	storetest.MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOIDCProvider(p) })
	now := time.Now()
	login := func(state string) *lanyard.OIDCLogin {
		return &lanyard.OIDCLogin{StateHash: []byte(state), ProviderID: p.ID, BrowserHash: []byte("b"), Nonce: "n", SealedVerifier: []byte("v"),
			Next: "/", Client: "ip:192.0.2.1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	locked := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(t.Context(), func(tx lanyard.Tx) error {
			if err := tx.LockOIDCLogins(); err != nil {
				return err
			}
			close(locked)
			time.Sleep(300 * time.Millisecond)
			return tx.CreateOIDCLogin(login("first"))
		})
	}()
	<-locked
	var n int
	storetest.MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		if err = tx.LockOIDCLogins(); err != nil {
			return err
		}
		n, err = tx.CountOIDCLogins("ip:192.0.2.1", now)
		return err
	})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("count after the lock: %d, want 1 (the other transaction's sign-in)", n)
	}
}

// TestThrottles runs the throttle contract on throttles kept in
// PostgreSQL.
func TestThrottles(t *testing.T) {
	storetest.RunThrottles(t, func(t *testing.T) lanyard.Store { return open(t, freshSchema(t)) })
}

// Two stores on one schema act as two server replicas: together their
// throttles let an attacker guess exactly as often as one would.
func TestThrottleTwoReplicas(t *testing.T) {
	u := freshSchema(t)
	a, b := open(t, u), open(t, u)
	defer a.Close()
	defer b.Close()
	storetest.ThrottleReplicas(t, a, b)
}

// BenchmarkThrottleAttempt: what the shared login throttle adds to each
// login on PostgreSQL, committing as lanyard serve does (the test
// schemas' synchronous_commit=off undone).
func BenchmarkThrottleAttempt(b *testing.B) {
	u, err := url.Parse(freshSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Del("synchronous_commit")
	u.RawQuery = q.Encode()
	db := open(b, u.String())
	defer db.Close()
	storetest.BenchmarkThrottleAttempt(b, db)
}
