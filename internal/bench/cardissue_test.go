package bench

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// Card issue (issue #4): the whole Issue card operation of
// internal/service/cardops (issue.go) on a factory-fresh emulated PIV card under
// the default policy (smartcard-logon required) with one optional template
// (secure-email) chosen, User PIN entered: select, serial,
// card and operation recorded, takeover to the card's diversified AES-192
// management key, two P-256 keys generated on the card, two certificates
// signed and recorded, written and checked with GET METADATA, PUK and PIN
// set, card issued; every step in its own durable transaction with its
// audit event. SQLite (synchronous=FULL, WAL) is the store.

const issueReader = "Bench reader"

// issueRequest is the Issue card dialog's answer the benchmarks send.
func issueRequest(ws int64, reader string) apiv1.IssueCardInput {
	return apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: ws, Reader: reader},
		Templates: []string{"secure-email"}, UserPIN: "24681357"}
}

// issueInput is issueRequest as the in-process benchmark gives it to the
// service.
func issueInput(ws int64, reader string) cardops.IssueCardInput {
	r := issueRequest(ws, reader)
	return cardops.IssueCardInput{CardTarget: cardops.CardTarget(r.CardTarget), Templates: r.Templates, UserPIN: r.UserPIN}
}

// BenchmarkCardIssue is one card issue, one card at a time:
//
//   - in-process: service.IssueCard over cardtest's in-process card access
//     (no agent, no HTTP). The time spent inside the emulator's Transmit is
//     subtracted, so server-ms/card is the server's own work: policy,
//     decisions, a durable transaction per step, audit, signing. Measured
//     in the same run for comparison: one raw x509.CreateCertificate with
//     the CA's issuing key (sign-ms) and one durable SQLite commit of one
//     small row (commit-ms).
//   - pcscd: POST /api/v1/issue through the whole stack: HTTP API, hub,
//     TLS agent connection, the real agent with agent.NewPCSCReaders,
//     pcscd, the vpcd driver, internal/card/vpcd and the emulator. Needs
//     LANYARD_TEST_VPCD (fails without it) and takes vpcdtest.Lock.
//     Replacing the card (pcscd sees a removal and an insertion, the agent
//     reads the new serial) is outside the timing.
func BenchmarkCardIssue(b *testing.B) {
	b.Run("in-process", benchIssueInProcess)
	b.Run("pcscd", benchIssuePCSCD)
}

func benchIssueInProcess(b *testing.B) {
	ctx := context.Background()
	access := cardtest.New()
	ib := newIssueBench(b, webtest.Options{Cards: func(lanyard.CardAccess) lanyard.CardAccess { return access }})
	access.Add(b, 1, ib.user.User.ID, issueReader)
	in := issueInput(1, issueReader)

	signMS := ib.rawSignMS(b, 200)
	commitMS := ib.rawCommitMS(b, 50)

	cost := inProcessCost{access: access, store: ib.store}
	for b.Loop() {
		b.StopTimer()
		c := newEmuCard(b)
		serial, err := cardtest.Serial(c)
		if err != nil {
			b.Fatal(err)
		}
		access.Workstation(1).Readers[issueReader] = c
		access.SetSerial(1, issueReader, serial)
		cost.start()
		b.StartTimer()

		res, err := ib.srv.Service.Cards.IssueCard(ctx, ib.user, in)

		b.StopTimer()
		if err != nil || res.State != "issued" {
			b.Fatalf("issue: %v (%+v)", err, res)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "card")
	b.ReportMetric(signMS, "sign-ms")
	b.ReportMetric(commitMS, "commit-ms")
}

func benchIssuePCSCD(b *testing.B) {
	ctx := context.Background()
	var ta *timingAccess
	ib, addr, ws, reader := newPCSCDBench(b, &ta)
	user := ib.client(b)
	in := issueRequest(ws, reader)

	var emuNanos atomic.Int64
	pull := func() {}
	b.Cleanup(func() { pull() })
	cost := relayCost{ta: ta, emu: &emuNanos}
	for b.Loop() {
		b.StopTimer()
		pull()
		ib.waitHub(b, "the card's removal", func(states []lanyard.WorkstationState) bool {
			return !hubReader(hubState(states, ws), reader).Present
		})
		c := newEmuCard(b)
		serial, err := cardtest.Serial(c)
		if err != nil {
			b.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		s, err := vpcd.Start(cctx, addr, timedCard{c, &emuNanos})
		if err != nil {
			b.Fatal(err)
		}
		pull = func() { cancel(); <-s.Done() }
		ib.waitHub(b, "the new card's serial", func(states []lanyard.WorkstationState) bool {
			return hubReader(hubState(states, ws), reader).Serial == serial
		})
		cost.start()
		b.StartTimer()

		var res apiv1.IssueCardResult
		_, err = user.Post(ctx, "/api/v1/issue", in, &res)

		b.StopTimer()
		if err != nil || res.State != "issued" {
			b.Fatalf("issue: %v (%+v)", err, res)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "card")
}

// relayCost adds up, over the timed calls of a benchmark through pcscd,
// the time the server waited for relayed APDUs (with their number) and
// the emulated card's own share of it.
type relayCost struct {
	ta  *timingAccess
	emu *atomic.Int64 // nanoseconds in the emulator (timedCard)

	e0          int64
	relay, card time.Duration
	apdus       int64
}

func (c *relayCost) start() {
	c.ta.take()
	c.e0 = c.emu.Load()
}

func (c *relayCost) stop() {
	c.card += time.Duration(c.emu.Load() - c.e0)
	for _, sess := range c.ta.take() {
		for _, r := range sess {
			c.relay += r.d
			c.apdus++
		}
	}
}

// report reports, per unit (one timed call): the server's own time (the
// benchmark's time less the relayed APDUs'), the relayed APDUs' time, the
// emulator's share of it and the APDUs.
func (c *relayCost) report(b *testing.B, unit string) {
	n := float64(b.N)
	relay := float64(c.relay) / n / 1e6
	b.ReportMetric(float64(b.Elapsed())/n/1e6-relay, "server-ms/"+unit)
	b.ReportMetric(relay, "relay-ms/"+unit)
	b.ReportMetric(float64(c.card)/n/1e6, "card-ms/"+unit)
	b.ReportMetric(float64(c.apdus)/n, "apdus/"+unit)
}

// newPCSCDBench is a server whose relayed APDUs are timed into *ta, with
// one real agent reading pcscd (agent.NewPCSCReaders), paired as user
// bench's workstation, and the vpcd slot of LANYARD_TEST_VPCD held for
// the benchmark (vpcdtest.Lock): the server, the slot's address, the
// workstation and pcscd's name of the slot's reader.
func newPCSCDBench(b *testing.B, ta **timingAccess) (ib *issueBench, addr string, ws int64, reader string) {
	addr = vpcdtest.Addr(b)
	vpcdtest.Lock(b, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	ib = newIssueBench(b, webtest.Options{Cards: timed(ta)})
	readers, err := agent.NewPCSCReaders()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { readers.Close() })
	ws = ib.pairAgents(b, []agent.Readers{readers})[0]
	ib.waitHub(b, "the vpcd reader", func(states []lanyard.WorkstationState) bool {
		var names []string
		for _, r := range hubState(states, ws).Readers {
			names = append(names, r.Name)
		}
		var ok bool
		reader, ok = vpcdtest.Reader(names, port)
		return ok
	})
	return ib, addr, ws, reader
}

// concurrentCards is how many cards BenchmarkCardIssueConcurrent issues
// at once (issue #4).
const concurrentCards = 200

// BenchmarkCardIssueConcurrent issues 200 cards at once through agent
// relays (issue #4: zero failures, server-side p99 per relayed APDU under
// 20 ms): 200 factory-fresh emulated cards in in-process readers
// (agent.NewMemReaders) of real agents on the real agent connection (TLS,
// framing, heartbeats at the production interval), one server; all 200
// POST /api/v1/issue of user bench (owner of every workstation, policy
// without a card limit) are sent together. Any failure fails the
// benchmark. Reported: the relayed APDUs' server-side round trip
// (Session.Transmit) p50, p99 and max; the opening burst (burst-ms: from
// the start until every issue has had its first APDU answered, while all
// 200 requests are being started at once) and the p99 of the APDUs sent
// after it; the issue requests' p50 and p99, the wall time of the whole
// batch and cards/s. Putting fresh cards in the readers (and the agents
// reading their serials) is outside the timing. The agents, their cards
// and the 200 clients run in the benchmark's process, on the server's
// CPUs.
//
//   - agents=200: one workstation per card, as in an office;
//   - agents=4: 50 readers per agent, so that many sessions share one
//     connection (agentproto.MaxReaders is 64).
func BenchmarkCardIssueConcurrent(b *testing.B) {
	for _, agents := range []int{200, 4} {
		b.Run("agents="+strconv.Itoa(agents), func(b *testing.B) { benchIssueConcurrent(b, agents) })
	}
}

func benchIssueConcurrent(b *testing.B, agents int) {
	ctx := context.Background()
	var ta *timingAccess
	ib, slots := newConcurrentBench(b, agents, &ta)
	user := ib.client(b)

	var lat, after, reqs []time.Duration
	var wall, burst time.Duration
	for b.Loop() {
		b.StopTimer()
		ib.insertFresh(b, slots)
		ta.take()
		b.StartTimer()

		_, r := issueAll(ctx, user, slots)
		wall += r.wall

		b.StopTimer()
		if failed := r.failures(slots); len(failed) > 0 {
			b.Fatalf("%d of %d issues failed; first: %s", len(failed), len(slots), failed[0])
		}
		// The opening burst: until every issue has had its first APDU
		// answered, all 200 requests compete for the CPU at once.
		sessions := ta.take()
		var burstEnd time.Time
		for _, sess := range sessions {
			if len(sess) > 0 && sess[0].at.Add(sess[0].d).After(burstEnd) {
				burstEnd = sess[0].at.Add(sess[0].d)
			}
		}
		for _, sess := range sessions {
			for _, r := range sess {
				lat = append(lat, r.d)
				if r.at.After(burstEnd) {
					after = append(after, r.d)
				}
			}
		}
		burst += burstEnd.Sub(r.start)
		reqs = append(reqs, r.took...)
		b.StartTimer()
	}
	slices.Sort(lat)
	slices.Sort(after)
	slices.Sort(reqs)
	b.ReportMetric(quantileMS(lat, 0.50), "apdu-p50-ms")
	b.ReportMetric(quantileMS(lat, 0.99), "apdu-p99-ms")
	b.ReportMetric(quantileMS(lat, 1), "apdu-max-ms")
	b.ReportMetric(quantileMS(after, 0.99), "after-burst-p99-ms")
	b.ReportMetric(float64(burst)/float64(b.N)/1e6, "burst-ms")
	b.ReportMetric(quantileMS(reqs, 0.50), "issue-p50-ms")
	b.ReportMetric(quantileMS(reqs, 0.99), "issue-p99-ms")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(len(reqs))/wall.Seconds(), "cards/s")
}

// issueBench is a whole server with user "bench" (display name, UPN and
// e-mail, as the templates need), allowed any number of cards, and an API
// token for them.
type issueBench struct {
	srv        *server
	store      *countingStore
	admin      *lanyard.Principal
	user       *lanyard.Principal
	adminToken string
	userToken  string
	heartbeat  time.Duration // of the agent connections
}

func newIssueBench(b *testing.B, opts webtest.Options) *issueBench {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "lanyard.db"))
	if err != nil {
		b.Fatal(err)
	}
	st := &countingStore{Store: sq}
	w := webtest.StartWith(b, st, opts)
	ib := &issueBench{srv: &server{Server: w, url: w.URL, token: w.AdminToken, store: st, sealer: w.Sealer}, store: st,
		adminToken: w.AdminToken, heartbeat: opts.Heartbeat}
	if ib.heartbeat <= 0 {
		ib.heartbeat = webtest.AgentHeartbeat
	}
	sys := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	admin, err := w.Service.Identity.GetUser(ctx, sys, service.BootstrapLogin)
	if err != nil {
		b.Fatal(err)
	}
	ib.admin = &lanyard.Principal{User: admin, Roles: admin.Roles}
	name, upn := "Bench User", "bench@example.test"
	u, err := w.Service.Identity.CreateUser(ctx, ib.admin, identity.UserInput{Login: "bench", DisplayName: &name, UPN: &upn, Email: &upn})
	if err != nil {
		b.Fatal(err)
	}
	ib.user = &lanyard.Principal{User: u, Roles: u.Roles}
	pol, err := w.Service.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	pol.Settings.Issuance.MaxCardsPerUser = 0 // unlimited: every iteration issues one more card
	if _, err := w.Service.Catalog.UpdatePolicy(ctx, ib.admin, "default", pol); err != nil {
		b.Fatal(err)
	}
	tok, err := w.Service.Identity.CreateToken(ctx, ib.admin, identity.TokenInput{User: "bench", Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ib.userToken = tok.Secret
	return ib
}

// client is an API client acting as user bench, with enough keep-alive
// connections for many requests at once.
func (ib *issueBench) client(b *testing.B) *client.Client { return ib.clientWith(b, ib.userToken) }

// adminClient is client as the administrator.
func (ib *issueBench) adminClient(b *testing.B) *client.Client {
	return ib.clientWith(b, ib.adminToken)
}

func (ib *issueBench) clientWith(b *testing.B, token string) *client.Client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	b.Cleanup(hc.CloseIdleConnections)
	c, err := client.New(ib.srv.url, token, hc)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// pairAgents runs one agent per readers, pairs them all at once (owner:
// bench) and waits until each is connected; it returns their workstation
// IDs in order. The agents use the server's heartbeat.
func (ib *issueBench) pairAgents(b *testing.B, readers []agent.Readers) []int64 {
	ctx, cancel := context.WithCancel(context.Background())
	admin, err := client.New(ib.srv.url, ib.adminToken, nil)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, len(readers))
	errs := make(chan error, len(readers))
	var running sync.WaitGroup
	var pairing sync.WaitGroup
	for i, r := range readers {
		// A short state directory: the status socket's path must fit
		// sun_path.
		dir, err := os.MkdirTemp("", "lyb")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		codes := make(chan string, 1)
		running.Add(1)
		go func() {
			defer running.Done()
			err := agent.Run(ctx, agent.Config{Server: ib.srv.AgentURL, StateDir: dir, Readers: r, Hostname: fmt.Sprintf("bench-%03d", i),
				OnPairingCode: func(c string) {
					select {
					case codes <- c:
					default:
					}
				}, Heartbeat: ib.heartbeat})
			if err != nil {
				errs <- err
			}
		}()
		pairing.Add(1)
		go func() {
			defer pairing.Done()
			var code string
			select {
			case code = <-codes:
			case <-time.After(30 * time.Second):
				errs <- fmt.Errorf("agent %d: no pairing code within 30 s", i)
				return
			}
			var w struct {
				ID int64 `json:"id"`
			}
			if _, err := admin.Post(ctx, "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: "bench"}, &w); err != nil {
				errs <- fmt.Errorf("agent %d: %w", i, err)
				return
			}
			ids[i] = w.ID
		}()
	}
	b.Cleanup(func() { cancel(); running.Wait() })
	pairing.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	ib.waitHub(b, "every agent connected", func(states []lanyard.WorkstationState) bool {
		for _, id := range ids {
			if !hubState(states, id).Online {
				return false
			}
		}
		return true
	})
	return ids
}

// waitHub polls the hub's states until ok holds (at most 60 s).
func (ib *issueBench) waitHub(b *testing.B, what string, ok func([]lanyard.WorkstationState) bool) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		states := ib.srv.Hub.States()
		if ok(states) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("waiting for %s: not within 60 s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func hubState(states []lanyard.WorkstationState, id int64) lanyard.WorkstationState {
	for _, st := range states {
		if st.ID == id {
			return st
		}
	}
	return lanyard.WorkstationState{ID: id}
}

func hubReader(st lanyard.WorkstationState, name string) lanyard.Reader {
	for _, r := range st.Readers {
		if r.Name == name {
			return r
		}
	}
	return lanyard.Reader{}
}

// rawSignMS is the mean time of x509.CreateCertificate with the CA's
// issuing key and a smartcard-logon-like P-256 template, one at a time.
func (ib *issueBench) rawSignMS(b *testing.B, n int) float64 {
	return ib.rawSignMSOf(b, n, &lanyard.Template{Name: "bench", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 365,
		KeyUsage: []string{lanyard.KUDigitalSignature}, ExtKeyUsage: []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{CommonName: "{display_name}", SANUPN: true}})
}

// rawSignTemplatesMS is the mean time of x509.CreateCertificate with the
// CA's issuing key of one P-256 certificate of each of the stored
// templates names for user bench, all of them together, n times.
func (ib *issueBench) rawSignTemplatesMS(b *testing.B, n int, names ...string) float64 {
	var tpls []*lanyard.Template
	for _, name := range names {
		t, err := ib.srv.Service.Catalog.GetTemplate(context.Background(), name)
		if err != nil {
			b.Fatal(err)
		}
		tpls = append(tpls, t)
	}
	return ib.rawSignMSOf(b, n, tpls...)
}

// rawSignMSOf is the mean time of signing one certificate of each of
// tpls (P-256 key, user bench) with the CA's issuing key, n times.
func (ib *issueBench) rawSignMSOf(b *testing.B, n int, tpls ...*lanyard.Template) float64 {
	issuer, key := ib.srv.issuingKey(b)
	pub := mustKey(b).Public()
	var certs []*x509.Certificate
	for _, t := range tpls {
		tmpl, err := ca.BuildCertificate(&ca.CertSpec{Template: t, User: ib.user.User, PublicKey: pub, Serial: big.NewInt(1),
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), URLs: ca.CAURLs(ib.srv.url, "builtin")})
		if err != nil {
			b.Fatal(err)
		}
		certs = append(certs, tmpl)
	}
	start := time.Now()
	for range n {
		for _, tmpl := range certs {
			if _, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, key); err != nil {
				b.Fatal(err)
			}
		}
	}
	return float64(time.Since(start)) / float64(n) / 1e6
}

// rawCommitMS is the mean time of one durable store transaction writing
// one small row (a setting), one at a time.
func (ib *issueBench) rawCommitMS(b *testing.B, n int) float64 {
	ctx := context.Background()
	start := time.Now()
	for i := range n {
		err := ib.store.Store.Update(ctx, func(tx lanyard.Tx) error {
			return tx.PutSetting("bench/commit", []byte(strconv.Itoa(i)))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start)) / float64(n) / 1e6
}

// inProcessCost adds up, over the timed calls of an in-process
// benchmark, the time spent inside the emulated cards (with their APDUs)
// and in the store's read-write transactions (with their number).
type inProcessCost struct {
	access *cardtest.Access
	store  *countingStore

	c0, d0         time.Duration // at start
	n0, tx0        int64
	card, db       time.Duration // added up
	apdus, updates int64
}

func (c *inProcessCost) start() {
	c.c0, c.n0 = c.access.CardTime()
	c.tx0, c.d0 = c.store.stats()
}

func (c *inProcessCost) stop() {
	c1, n1 := c.access.CardTime()
	tx1, d1 := c.store.stats()
	c.card += c1 - c.c0
	c.apdus += n1 - c.n0
	c.updates += tx1 - c.tx0
	c.db += d1 - c.d0
}

// report reports, per unit (one timed call): the server's own time (the
// benchmark's time less the cards'), the cards' time, the transactions,
// their time and the APDUs.
func (c *inProcessCost) report(b *testing.B, unit string) {
	n := float64(b.N)
	card := float64(c.card) / n / 1e6
	b.ReportMetric(float64(b.Elapsed())/n/1e6-card, "server-ms/"+unit)
	b.ReportMetric(card, "card-ms/"+unit)
	b.ReportMetric(float64(c.updates)/n, "db-tx/"+unit)
	b.ReportMetric(float64(c.db)/n/1e6, "db-ms/"+unit)
	b.ReportMetric(float64(c.apdus)/n, "apdus/"+unit)
}

// countingStore counts the read-write transactions and the time spent in
// them (waiting for the writer included).
type countingStore struct {
	lanyard.Store
	updates atomic.Int64
	nanos   atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	start := time.Now()
	err := s.Store.Update(ctx, fn)
	s.nanos.Add(int64(time.Since(start)))
	s.updates.Add(1)
	return err
}

func (s *countingStore) stats() (int64, time.Duration) {
	return s.updates.Load(), time.Duration(s.nanos.Load())
}

// timingAccess is the service's card access with every relayed APDU timed
// on the server: the time Session.Transmit takes, as the hub's
// lanyard_agent_apdu_relay_seconds histogram sees it.
// timed gives the service a timingAccess over the hub's card access,
// stored in *ta (webtest.Options.Cards).
func timed(ta **timingAccess) func(lanyard.CardAccess) lanyard.CardAccess {
	return func(hub lanyard.CardAccess) lanyard.CardAccess {
		*ta = &timingAccess{CardAccess: hub}
		return *ta
	}
}

type timingAccess struct {
	lanyard.CardAccess
	mu       sync.Mutex
	sessions [][]relayed // of the sessions closed since the last take
}

// relayed is one relayed APDU: when it was sent and how long its round
// trip took.
type relayed struct {
	at time.Time
	d  time.Duration
}

func (t *timingAccess) Open(ctx context.Context, ws int64, reader string) (lanyard.CardSession, error) {
	s, err := t.CardAccess.Open(ctx, ws, reader)
	if err != nil {
		return nil, err
	}
	return &timedSession{CardSession: s, t: t}, nil
}

// take returns the APDUs of each session closed so far and starts again.
func (t *timingAccess) take() [][]relayed {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.sessions
	t.sessions = nil
	return out
}

type timedSession struct {
	lanyard.CardSession
	t   *timingAccess
	lat []relayed
}

func (s *timedSession) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	start := time.Now()
	r, err := s.CardSession.Transmit(ctx, cmd)
	if err == nil {
		s.lat = append(s.lat, relayed{start, time.Since(start)})
	}
	return r, err
}

func (s *timedSession) Close() error {
	s.t.mu.Lock()
	s.t.sessions = append(s.t.sessions, s.lat)
	s.t.mu.Unlock()
	s.lat = nil
	return s.CardSession.Close()
}

// timedCard is an emulated card that adds the time spent in its Transmit
// to nanos.
type timedCard struct {
	*emu.Card
	nanos *atomic.Int64
}

func (c timedCard) Transmit(cmd []byte) []byte {
	start := time.Now()
	r := c.Card.Transmit(cmd)
	c.nanos.Add(int64(time.Since(start)))
	return r
}

// quantileMS is the q-quantile of sorted durations, in milliseconds.
func quantileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[int(q*float64(len(sorted)-1))]) / 1e6
}
