//go:build integration

package monitor_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const day = 24 * time.Hour

// counting counts the card-level store calls a run makes, to show that
// a run with nothing due reads and writes no card.
type counting struct {
	lanyard.Store
	certs, puts, cards atomic.Int64
}

type countingTx struct {
	lanyard.Tx
	c *counting
}

func (c *counting) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	return c.Store.View(ctx, func(tx lanyard.Tx) error { return fn(countingTx{tx, c}) })
}

func (c *counting) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	return c.Store.Update(ctx, func(tx lanyard.Tx) error { return fn(countingTx{tx, c}) })
}

func (t countingTx) CardCerts(ids []int64) ([]lanyard.CardCert, error) {
	t.c.certs.Add(1)
	return t.Tx.CardCerts(ids)
}

func (t countingTx) PutCardContents(rs []*lanyard.CardContent) error {
	t.c.puts.Add(int64(len(rs)))
	return t.Tx.PutCardContents(rs)
}

func (t countingTx) CardsByIDs(ids []int64) ([]*lanyard.Card, error) {
	t.c.cards.Add(1)
	return t.Tx.CardsByIDs(ids)
}

func (c *counting) reset() (certs, puts, cards int64) {
	return c.certs.Swap(0), c.puts.Swap(0), c.cards.Swap(0)
}

func openStore(t *testing.T, engine string) lanyard.Store {
	var st lanyard.Store
	var err error
	if engine == "postgres" {
		st, err = postgres.Open(t.Context(), pgtest.FreshSchema(t))
	} else {
		st, err = sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func addr(t *testing.T, who string) string {
	var b [4]byte
	rand.Read(b[:])
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return who + "-" + name + "-" + hex.EncodeToString(b[:]) + "@example.com"
}

// world is a store with an owner (manager in copy), an operator, a
// policy and three cards: one with a managed certificate expiring in 60
// days, one with a tracked certificate expiring in 100, one with none.
type world struct {
	store          *counting
	clock          *servicetest.Clock
	mailer         *notify.Mailer
	api            string
	alice          *lanyard.User
	aliceTo, boss  string
	olga           string
	managed, empty *lanyard.Card
	logon          *lanyard.Certificate
	t0             time.Time
}

func newWorld(t *testing.T, engine string) *world {
	env := mailpittest.MustEnv(t)
	st := openStore(t, engine)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	smtpAddr := mailpittest.FreeAddr(t)
	api, _ := env.Start(t, smtpAddr) // a mailpit of this test's own
	w := &world{store: &counting{Store: st}, clock: servicetest.NewClock(t0), api: api, t0: t0,
		aliceTo: addr(t, "alice"), boss: addr(t, "boss"), olga: addr(t, "olga")}
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	w.mailer, err = notify.New(notify.Config{Store: st, Sealer: sealer, Now: w.clock.Now, Rand: rand.Reader, BaseURL: "https://lanyard.example.com",
		RootCAs: env.RootCAs(t), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	host, port := mailpittest.HostPort(t, smtpAddr)
	if _, err := w.mailer.PutMailSettings(t.Context(), &lanyard.Principal{User: &lanyard.User{Login: "admin"}}, apiv1.MailSettingsInput{
		Enabled: true, Host: host, Port: port, Security: apiv1.SMTPNone, From: "Lanyard <lanyard@example.com>"}); err != nil {
		t.Fatal(err)
	}
	storetest.MustCreateCA(t, st, "builtin")
	w.alice = storetest.NewUser("alice")
	w.alice.Email, w.alice.ManagerEmail, w.alice.Roles = w.aliceTo, w.boss, lanyard.Roles{lanyard.RoleUser}
	olga := storetest.NewUser("olga")
	olga.Email, olga.Roles = w.olga, lanyard.Roles{lanyard.RoleOperator}
	pol := storetest.NewPolicy("staff", 10)
	pol.Settings.Notifications = lanyard.NotificationsSettings{NotifyUser: true, NotifyManager: true, ExpiryWarningDays: 30, ExpiryResendDays: 7}
	w.managed, w.empty = storetest.NewCard("6001", 0), storetest.NewCard("6003", 0)
	tracked := storetest.NewCard("6002", 0)
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		for _, u := range []*lanyard.User{w.alice, olga} {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		if err := tx.CreatePolicy(pol); err != nil {
			return err
		}
		for _, c := range []*lanyard.Card{w.managed, tracked, w.empty} {
			c.OwnerID = w.alice.ID
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		w.logon = storetest.NewCertificate("builtin", "1001", w.alice.ID)
		w.logon.CardID, w.logon.Status, w.logon.NotAfter = w.managed.ID, lanyard.CertWritten, t0.Add(60*day)
		other := storetest.NewCertificate("builtin", "1002", w.alice.ID)
		other.CardID, other.Source, other.NotAfter = tracked.ID, lanyard.SourceTracked, t0.Add(100*day)
		return tx.CreateCertificates([]*lanyard.Certificate{w.logon, other})
	})
	return w
}

func (w *world) monitor(t *testing.T, holder string) *monitor.Monitor {
	m, err := monitor.New(monitor.Config{Store: w.store, Now: w.clock.Now, Notifier: w.mailer, Holder: holder})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func run(t *testing.T, m *monitor.Monitor) *monitor.Result {
	t.Helper()
	res, err := m.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mails delivers what is queued and checks how many messages each
// address holds.
func (w *world) mails(t *testing.T, want map[string]int) {
	t.Helper()
	if _, err := w.mailer.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	for to, n := range want {
		if n > 0 {
			mailpittest.Wait(t, w.api, to, n)
		}
		if got := len(distinct(mailpittest.Find(t, w.api, to))); got != n {
			t.Errorf("%s holds %d messages, want %d", to, got, n)
		}
	}
}

// distinct drops the copies of one message (mailpit keeps one per
// recipient).
func distinct(msgs []*mailpittest.Message) []*mailpittest.Message {
	seen := map[string]bool{}
	var out []*mailpittest.Message
	for _, m := range msgs {
		if !seen[m.MessageID] {
			seen[m.MessageID] = true
			out = append(out, m)
		}
	}
	return out
}

func (w *world) status(t *testing.T, card *lanyard.Card) lanyard.ContentStatus {
	t.Helper()
	var got lanyard.ContentStatus = lanyard.ContentNone
	storetest.MustView(t, w.store.Store, func(tx lanyard.Tx) error {
		rs, err := tx.CardContents([]int64{card.ID})
		if r := rs[card.ID]; r != nil {
			got = r.Status
		}
		return err
	})
	return got
}

// TestCardMonitorLifecycle moves a managed certificate into its warning
// period and past expiry with the test's clock: the status follows, the
// owner (manager in copy) and the operators are told once, again after
// the re-send period, and not in between; a run with nothing due touches
// no card; a changed certificate is picked up without being due.
func TestCardMonitorLifecycle(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { testLifecycle(t, engine) })
	}
}

func testLifecycle(t *testing.T, engine string) {
	w := newWorld(t, engine)
	m := w.monitor(t, "replica-1")

	// First run: every card, nothing to tell.
	res := run(t, m)
	if !res.Full || res.Looked != 3 || res.Notified != 0 {
		t.Fatalf("first run %+v, want full over 3 cards, nothing notified", res)
	}
	w.store.reset()
	w.mails(t, map[string]int{w.aliceTo: 0, w.olga: 0})

	// Nothing due a day later: no card is read or written.
	w.clock.Add(day)
	res = run(t, m)
	if certs, puts, cards := w.store.reset(); res.Full || res.Looked != 0 || certs+puts+cards != 0 {
		t.Fatalf("idle run %+v touched cards: CardCerts %d, records written %d, CardsByIDs %d", res, certs, puts, cards)
	}

	// Day 31: the logon certificate (60 days) is within 30 days.
	w.clock.Add(30 * day)
	res = run(t, m)
	if res.Looked != 1 || res.Notified != 1 || w.status(t, w.managed) != lanyard.ContentManagedExpiring {
		t.Fatalf("run on day 31 %+v, status %s; want 1 card looked at, managed_expiring, notified", res, w.status(t, w.managed))
	}
	w.mails(t, map[string]int{w.aliceTo: 1, w.boss: 1, w.olga: 1})
	msgs := distinct(mailpittest.Find(t, w.api, w.aliceTo))
	if !strings.Contains(msgs[0].Subject, "expiring") || !strings.Contains(msgs[0].Text, "2026-04-30") {
		t.Errorf("owner's notice %q: %q", msgs[0].Subject, msgs[0].Text)
	}
	if ops := mailpittest.Find(t, w.api, w.olga); !strings.Contains(ops[0].Text, "card 6001 (piv) of alice: managed expiring") {
		t.Errorf("operators' digest: %q", ops[0].Text)
	}

	// Six days on: not due again; nothing sent.
	w.clock.Add(6 * day)
	w.store.reset()
	if res = run(t, m); res.Looked != 0 {
		t.Fatalf("run before the re-send %+v", res)
	}
	w.mails(t, map[string]int{w.aliceTo: 1, w.olga: 1})

	// Seven days after the notice: sent again.
	w.clock.Add(day)
	if res = run(t, m); res.Notified != 1 {
		t.Fatalf("re-send run %+v", res)
	}
	w.mails(t, map[string]int{w.aliceTo: 2, w.boss: 2, w.olga: 2})

	// Day 61: expired, told at once.
	w.clock.Add(23 * day)
	if res = run(t, m); res.Notified != 1 || w.status(t, w.managed) != lanyard.ContentManagedExpired {
		t.Fatalf("run on day 61 %+v, status %s", res, w.status(t, w.managed))
	}
	w.mails(t, map[string]int{w.aliceTo: 3, w.olga: 3})
	if msgs = distinct(mailpittest.Find(t, w.api, w.aliceTo)); !strings.Contains(msgs[len(msgs)-1].Subject, "expired") {
		t.Errorf("expired notice %q", msgs[len(msgs)-1].Subject)
	}

	// The certificate is replaced (revoked, as an update does): the
	// change is seen without the card being due, and the card is none.
	now := w.clock.Now()
	w.logon.Status, w.logon.UpdatedAt = lanyard.CertRevoked, now
	storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error { return tx.UpdateCertificate(w.logon) })
	w.clock.Add(time.Hour)
	if res = run(t, m); res.Looked != 1 || w.status(t, w.managed) != lanyard.ContentNone {
		t.Fatalf("run after the change %+v, status %s", res, w.status(t, w.managed))
	}
	var counts map[lanyard.ContentStatus]int
	storetest.MustView(t, w.store.Store, func(tx lanyard.Tx) (err error) { counts, err = tx.CountCardContents(); return err })
	if counts[lanyard.ContentNone] != 3 {
		t.Errorf("counts %v, want 3 none", counts)
	}
	// Day 71: the tracked certificate (100 days) is within 30 days.
	w.clock.Add(10 * day)
	if res = run(t, m); res.Looked != 1 || res.Entered[lanyard.ContentTrackedExpiring] != 1 {
		t.Fatalf("run on day 71 %+v", res)
	}
	// A policy change (a longer warning period) makes the next run look
	// at every card again.
	storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
		p, err := tx.PolicyByName("staff")
		if err != nil {
			return err
		}
		p.Settings.Notifications.ExpiryWarningDays, p.UpdatedAt = 120, w.clock.Now()
		return tx.UpdatePolicy(p)
	})
	w.clock.Add(time.Hour)
	if res = run(t, m); !res.Full || res.Looked != 3 {
		t.Fatalf("run after a policy change %+v", res)
	}
	// Each run left one audit event, none per card.
	var events []*lanyard.AuditEvent
	storetest.MustView(t, w.store.Store, func(tx lanyard.Tx) (err error) {
		events, err = tx.ListAudit(lanyard.AuditFilter{Action: "card_monitor.run"})
		return err
	})
	if len(events) != 9 {
		t.Errorf("%d card_monitor.run events, want one per run (9)", len(events))
	}
}

// TestCardMonitorOnceAcrossReplicas: two monitors on one PostgreSQL
// store; while one holds the job the other does nothing, and takes over
// when the holder's lease runs out.
func TestCardMonitorOnceAcrossReplicas(t *testing.T) {
	w := newWorld(t, "postgres")
	a, b := w.monitor(t, "replica-a"), w.monitor(t, "replica-b")
	// replica-a is mid-run: it holds the lease.
	storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
		_, err := tx.ClaimJob(monitor.JobName, "replica-a", w.clock.Now(), w.clock.Now().Add(monitor.DefaultLease))
		return err
	})
	if res := run(t, b); !res.Skipped || res.Looked != 0 {
		t.Fatalf("replica-b while replica-a holds the job: %+v", res)
	}
	if certs, puts, cards := w.store.reset(); certs+puts+cards != 0 {
		t.Fatalf("the skipped run touched cards")
	}
	// Each claim holds the lease under its own name: not even replica-a's
	// next run takes over a claim that is still held.
	if res := run(t, a); !res.Skipped {
		t.Fatalf("replica-a's second claim during its first: %+v", res)
	}
	storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
		return tx.FinishJob(&lanyard.JobRun{Name: monitor.JobName, Holder: "replica-a"}) // released without a run
	})
	if res := run(t, a); res.Skipped || !res.Full {
		t.Fatalf("replica-a's run: %+v", res)
	}
	// replica-a's run finished: replica-b runs, incrementally.
	if res := run(t, b); res.Skipped || res.Full {
		t.Fatalf("replica-b after replica-a finished: %+v", res)
	}
	// A replica that stopped mid-run holds the job only until its lease ends.
	storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
		_, err := tx.ClaimJob(monitor.JobName, "replica-a", w.clock.Now(), w.clock.Now().Add(monitor.DefaultLease))
		return err
	})
	if res := run(t, b); !res.Skipped {
		t.Fatalf("replica-b during replica-a's lease: %+v", res)
	}
	w.clock.Add(monitor.DefaultLease + time.Second)
	if res := run(t, b); res.Skipped {
		t.Fatalf("replica-b after replica-a's lease ran out: %+v", res)
	}
}

// gated is a store whose ChangedCards waits for gate, after saying so on
// entered: a run held there is mid-run, between its transactions.
type gated struct {
	lanyard.Store
	entered chan struct{}
	gate    chan struct{}
}

type gatedTx struct {
	lanyard.Tx
	g *gated
}

func (g *gated) View(ctx context.Context, fn func(lanyard.Tx) error) error {
	return g.Store.View(ctx, func(tx lanyard.Tx) error { return fn(gatedTx{tx, g}) })
}

func (t gatedTx) ChangedCards(since time.Time, after int64, limit int) ([]int64, error) {
	t.g.entered <- struct{}{}
	<-t.g.gate
	return t.Tx.ChangedCards(since, after, limit)
}

// TestCardMonitorConcurrentReplicas: two replicas' monitors start at
// once on one PostgreSQL store; while the first is mid-run the second
// does nothing, and the first completes its run.
func TestCardMonitorConcurrentReplicas(t *testing.T) {
	w := newWorld(t, "postgres")
	g := &gated{Store: w.store.Store, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	a, err := monitor.New(monitor.Config{Store: g, Now: w.clock.Now, Notifier: w.mailer, Holder: "replica-a"})
	if err != nil {
		t.Fatal(err)
	}
	b := w.monitor(t, "replica-b")
	type outcome struct {
		res *monitor.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := a.RunOnce(context.Background())
		done <- outcome{res, err}
	}()
	<-g.entered // replica-a holds the job and is reading
	if res := run(t, b); !res.Skipped {
		t.Errorf("replica-b ran while replica-a was mid-run: %+v", res)
	}
	close(g.gate)
	if o := <-done; o.err != nil || o.res.Skipped || !o.res.Full || o.res.Looked != 3 {
		t.Fatalf("replica-a's run: %+v, %v", o.res, o.err)
	}
}

// TestCardMonitorQuietForDisabled: a disabled card, and the cards of a
// disabled user (a leaver), keep their status but tell nobody, not even
// the operators' digest; notices resume when both are enabled again, and
// stop for good once the card is revoked.
func TestCardMonitorQuietForDisabled(t *testing.T) {
	w := newWorld(t, "sqlite")
	m := w.monitor(t, "replica-1")
	run(t, m)
	setCard := func(st lanyard.CardState) {
		t.Helper()
		storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
			w.managed.State, w.managed.UpdatedAt = st, w.clock.Now()
			return tx.UpdateCard(w.managed)
		})
	}
	setUser := func(disabled bool) {
		t.Helper()
		storetest.MustUpdate(t, w.store.Store, func(tx lanyard.Tx) error {
			w.alice.Disabled, w.alice.UpdatedAt = disabled, w.clock.Now()
			return tx.UpdateUser(w.alice)
		})
	}
	setCard(lanyard.CardDisabled)
	w.clock.Add(31 * day) // the logon certificate is within its warning period
	if res := run(t, m); res.Notified != 0 || w.status(t, w.managed) != lanyard.ContentManagedExpiring {
		t.Fatalf("a disabled card: run %+v, status %s; want managed_expiring, nobody told", res, w.status(t, w.managed))
	}
	setCard(lanyard.CardIssued)
	setUser(true)
	w.clock.Add(8 * day) // past the re-send period
	if res := run(t, m); res.Notified != 0 || w.status(t, w.managed) != lanyard.ContentManagedExpiring {
		t.Fatalf("a disabled owner: run %+v, status %s; want managed_expiring, nobody told", res, w.status(t, w.managed))
	}
	w.mails(t, map[string]int{w.aliceTo: 0, w.boss: 0, w.olga: 0})
	setUser(false)
	setCard(lanyard.CardIssued) // a change the next run sees
	w.clock.Add(time.Hour)
	if res := run(t, m); res.Notified != 1 {
		t.Fatalf("enabled again: run %+v, want the owner told", res)
	}
	w.mails(t, map[string]int{w.aliceTo: 1, w.olga: 1})
	setCard(lanyard.CardRevoked)
	for range 3 {
		w.clock.Add(8 * day)
		run(t, m)
	}
	w.mails(t, map[string]int{w.aliceTo: 1, w.olga: 1})
	if st := w.status(t, w.managed); st != lanyard.ContentNone {
		t.Errorf("a revoked card's status %s, want none", st)
	}
}
