package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// Sizes of BenchmarkCardMonitor (issue 17 asks 200,000 cards and
// 1,000,000 certificates).
const (
	envMonitorCards = "LANYARD_BENCH_MONITOR_CARDS" // default 20,000
	envMonitorCerts = "LANYARD_BENCH_MONITOR_CERTS" // per card, default 5
)

func envSize(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q", name, v)
	}
	return n
}

// BenchmarkCardMonitor is the Card Monitor over a PostgreSQL store of N
// cards (one owner each) holding M certificates each, one tracked and
// the others managed, expiring evenly over the next two years: the full
// first run (every card), an incremental run with nothing due or changed,
// and one a day later (the cards whose certificates entered the warning
// period that day, plus 100 certificates changed) — next to a plain
// indexed SELECT count(*) over the certificates in the same run. No
// notifier: the figures are the monitor's reading and writing.
//
//	LANYARD_BENCH_MONITOR_CARDS=200000 go test -run '^$' -bench CardMonitor -benchtime 1x -timeout 60m ./internal/bench/
func BenchmarkCardMonitor(b *testing.B) {
	nCards, perCard := envSize(b, envMonitorCards, 20000), envSize(b, envMonitorCerts, 5)
	ctx := context.Background()
	dsn := pgtest.FreshSchema(b)
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	populateMonitor(b, db, nCards, perCard, t0)
	pol := &lanyard.Policy{Name: "everyone", Priority: 100, Settings: policy.Defaults(), Assignments: []lanyard.Assignment{{Kind: lanyard.AssignEveryone}},
		CreatedAt: t0, UpdatedAt: t0}
	if err := st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreatePolicy(pol) }); err != nil {
		b.Fatal(err)
	}
	clock := servicetest.NewClock(t0)
	m, err := monitor.New(monitor.Config{Store: st, Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	timed := func(what string, fn func() error) time.Duration {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatalf("%s: %v", what, err)
		}
		return time.Since(start)
	}
	var full, idle, daily, count time.Duration
	var looked, lookedDaily int
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if _, err := db.Exec(`DELETE FROM card_content; DELETE FROM job_runs`); err != nil {
			b.Fatal(err)
		}
		clock = servicetest.NewClock(t0)
		m, _ = monitor.New(monitor.Config{Store: st, Now: clock.Now})
		b.StartTimer()
		var n int
		count += timed("count", func() error {
			return db.QueryRow(`SELECT count(*) FROM certificates WHERE card_id IS NOT NULL`).Scan(&n)
		})
		if n != nCards*perCard {
			b.Fatalf("count %d, want %d", n, nCards*perCard)
		}
		var res *monitor.Result
		full += timed("full run", func() (err error) { res, err = m.RunOnce(ctx); return err })
		if !res.Full || res.Looked != nCards {
			b.Fatalf("full run %+v", res)
		}
		clock.Add(time.Minute)
		idle += timed("idle run", func() (err error) { res, err = m.RunOnce(ctx); return err })
		looked += res.Looked
		clock.Add(24 * time.Hour)
		now := clock.Now().UnixMicro()
		if _, err := db.Exec(`UPDATE certificates SET updated_at = $1 WHERE id IN (SELECT id FROM certificates ORDER BY id DESC LIMIT 100)`, now); err != nil {
			b.Fatal(err)
		}
		daily += timed("a day later", func() (err error) { res, err = m.RunOnce(ctx); return err })
		lookedDaily += res.Looked
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(per(count), "count_ms")
	b.ReportMetric(per(full), "full_ms")
	b.ReportMetric(per(idle), "idle_ms")
	b.ReportMetric(float64(looked)/float64(b.N), "idle_cards")
	b.ReportMetric(per(daily), "day_ms")
	b.ReportMetric(float64(lookedDaily)/float64(b.N), "day_cards")
}

// populateMonitor writes the benchmark's users, cards and certificates
// with set-based SQL (the store's one-by-one inserts would take most of
// the run at 1,000,000 certificates), then analyzes the tables.
func populateMonitor(b *testing.B, db *sql.DB, nCards, perCard int, t0 time.Time) {
	start := time.Now()
	t := t0.Add(-24 * time.Hour).UnixMicro() // written the day before the first run
	day := (24 * time.Hour).Microseconds()
	stmts := []string{
		fmt.Sprintf(`INSERT INTO users (login, email, roles, created_at, updated_at)
			SELECT 'u' || g, 'u' || g || '@example.com', '["user"]', %d, %d FROM generate_series(1, %d) g`, t, t, nCards),
		fmt.Sprintf(`INSERT INTO cards (serial, card_type, owner_id, state, created_at, updated_at)
			SELECT lpad(u.id::text, 10, '0'), 'piv', u.id, 'issued', %d, %d FROM users u`, t, t),
		// NotAfter from one day to two years ahead, evenly: about 1/730
		// of the certificates enter the 30-day warning period each day.
		fmt.Sprintf(`INSERT INTO certificates (ca, serial, template, user_id, card_id, subject, not_before, not_after, status, source, created_at, updated_at)
			SELECT 'builtin', to_hex(c.id * %[1]d + k), 'logon', c.owner_id, c.id, 'CN=u' || c.owner_id, %[2]d,
				%[2]d + 2 * %[3]d + ((c.id * %[1]d + k) * 7919 %% 730) * %[3]d,
				'written', CASE WHEN k = 0 THEN 'tracked' ELSE 'managed' END, %[2]d, %[2]d
			FROM cards c, generate_series(0, %[1]d - 1) k`, perCard, t, day),
		`ANALYZE users`, `ANALYZE cards`, `ANALYZE certificates`,
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			b.Fatalf("%s: %v", s, err)
		}
	}
	b.Logf("populated %d cards, %d certificates in %v", nCards, nCards*perCard, time.Since(start).Round(time.Millisecond))
}
