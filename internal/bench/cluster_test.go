package bench

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/clustertest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
)

// The cluster's benchmarks (issue 19, docs/deployment.md) run real
// processes (internal/clustertest): `lanyard serve` replicas on one
// PostgreSQL schema (LANYARD_TEST_POSTGRES), a `lanyard agent` process
// reading pcscd (LANYARD_TEST_VPCD), the emulated card in this process
// behind vpcd.

// BenchmarkClusterCardIssue is card issue (the Issue card operation of
// BenchmarkCardIssue/pcscd: two keys, two certificates, PIN and PUK), one
// card at a time, with the workstation agent connected to replica A of
// two. Each iteration issues two cards, one each way, in alternating
// order, so that both see the same machine (other load drifts over a
// run):
//
//   - direct: POST /api/v1/issue to replica A, which holds the agent;
//   - forwarded: POST /api/v1/issue to replica B, which forwards the
//     whole request to A over the peer link (the APDUs stay at A).
//
// Reported per card and way: the wall time (direct-ms/card,
// forwarded-ms/card), the emulator's own time (card-ms/card), the time
// between the card's answer and the next command it receives
// (direct-/forwarded-apdu-gap-p50-ms and -p99-ms: the relay round trip
// agent → replica → agent plus the server's work between two APDUs, which
// forwarding must leave unchanged), and the forwarding overhead as a share
// of the server's time per card (fwd-overhead-%: (forwarded − direct) /
// (direct − card time)).
func BenchmarkClusterCardIssue(b *testing.B) {
	cb := newClusterIssueBench(b)
	ways := []*issueWay{{name: "direct", via: cb.c.Replicas[0]}, {name: "forwarded", via: cb.c.Replicas[1]}}
	for _, w := range ways {
		w.user = w.via.Client(cb.token)
	}
	gaps := &gapCard{}
	i := 0
	for b.Loop() {
		for k := range ways {
			cb.issue(b, ways[(i+k)%2], gaps)
		}
		i++
	}
	n := float64(b.N)
	var card time.Duration
	for _, w := range ways {
		b.ReportMetric(float64(w.wall)/n/1e6, w.name+"-ms/card")
		b.ReportMetric(quantileMS(w.sortedGaps(), 0.5), w.name+"-apdu-gap-p50-ms")
		b.ReportMetric(quantileMS(w.sortedGaps(), 0.99), w.name+"-apdu-gap-p99-ms")
		card += w.card
	}
	cardMS := float64(card) / (2 * n) / 1e6
	b.ReportMetric(cardMS, "card-ms/card")
	direct, fwd := float64(ways[0].wall)/n/1e6, float64(ways[1].wall)/n/1e6
	b.ReportMetric(100*(fwd-direct)/(direct-cardMS), "fwd-overhead-%")
}

// issueWay is one way of sending the issue and what it measured.
type issueWay struct {
	name string
	via  *clustertest.Replica
	user *client.Client
	wall time.Duration
	card time.Duration
	gaps []time.Duration
}

func (w *issueWay) sortedGaps() []time.Duration {
	g := slices.Clone(w.gaps)
	slices.Sort(g)
	return g
}

// clusterIssueBench is the cluster, the agent on A and the vpcd slot.
type clusterIssueBench struct {
	c      *clustertest.Cluster
	token  string
	ws     int64
	reader string
	addr   string
	pull   func()
}

func newClusterIssueBench(b *testing.B) *clusterIssueBench {
	addr := vpcdtest.Addr(b)
	vpcdtest.Lock(b, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	c := clustertest.Start(b, clustertest.Build(b, b.TempDir()), clustertest.Options{LogLevel: "warn"})
	ctx := context.Background()
	admin := c.Replicas[0].Admin()
	rs := lanyard.Roles{lanyard.RoleUser}
	name, email := "Bench user", "bench@example.com"
	if _, err := admin.Post(ctx, "/api/v1/users", apiv1.UserInput{Login: "bench", DisplayName: &name, Email: &email, UPN: &email, Roles: &rs}, nil); err != nil {
		b.Fatal(err)
	}
	var tok apiv1.NewToken
	if _, err := admin.Post(ctx, "/api/v1/tokens", apiv1.TokenInput{User: "bench"}, &tok); err != nil {
		b.Fatal(err)
	}
	var pol lanyard.Policy
	if err := admin.Get(ctx, "/api/v1/policies/default", &pol); err != nil {
		b.Fatal(err)
	}
	pol.Settings.Issuance.MaxCardsPerUser = 0 // unlimited: every iteration issues one more card
	if _, err := admin.Do(ctx, http.MethodPut, "/api/v1/policies/default", &pol, nil); err != nil {
		b.Fatal(err)
	}
	cb := &clusterIssueBench{c: c, token: tok.Secret, addr: addr, pull: func() {}}
	b.Cleanup(func() { cb.pull() })
	a := c.PairAgent(c.Replicas[0], c.Replicas[0].AgentURL, "bench", clustertest.AgentOptions{Args: []string{"--log-level", "warn"}})
	cb.ws = a.WS
	c.WaitWorkstation(c.Replicas[0], a.WS, "online with the vpcd reader", 20*time.Second, func(w *apiv1.WorkstationView) bool {
		for _, r := range w.Readers {
			if n, ok := vpcdtest.Reader([]string{r.Name}, port); ok && w.Online {
				cb.reader = n
				return true
			}
		}
		return false
	})
	return cb
}

// issue issues one factory-fresh card through w; only the request is
// timed (b's timer and w's own clock).
func (cb *clusterIssueBench) issue(b *testing.B, w *issueWay, gaps *gapCard) {
	b.StopTimer()
	cb.insert(b, gaps)
	gaps.reset()
	in := issueRequest(cb.ws, cb.reader)
	b.StartTimer()

	start := time.Now()
	var res apiv1.IssueCardResult
	_, err := w.user.Post(context.Background(), "/api/v1/issue", in, &res)
	d := time.Since(start)

	b.StopTimer()
	if err != nil || res.State != "issued" {
		b.Fatalf("issue through replica %s (%s): %v (%+v)", clustertest.Name(w.via.Index), w.name, err, res)
	}
	w.wall += d
	w.card += gaps.busy()
	w.gaps = append(w.gaps, gaps.take()...)
	b.StartTimer()
}

// insert replaces the card in the vpcd slot with a factory-fresh one and
// waits until replica A reports its serial.
func (cb *clusterIssueBench) insert(b *testing.B, gaps *gapCard) {
	cb.pull()
	cb.c.WaitWorkstation(cb.c.Replicas[0], cb.ws, "showing the reader empty", 20*time.Second, func(w *apiv1.WorkstationView) bool {
		for _, r := range w.Readers {
			if r.Name == cb.reader {
				return !r.Present
			}
		}
		return false
	})
	c := newEmuCard(b)
	serial, err := cardtest.Serial(c)
	if err != nil {
		b.Fatal(err)
	}
	gaps.set(c)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := vpcd.Start(ctx, cb.addr, gaps)
	if err != nil {
		b.Fatal(err)
	}
	cb.pull = func() { cancel(); <-s.Done() }
	cb.c.WaitWorkstation(cb.c.Replicas[0], cb.ws, "showing card "+serial, 20*time.Second, func(w *apiv1.WorkstationView) bool {
		for _, r := range w.Readers {
			if r.Name == cb.reader {
				return r.Present && r.Serial == serial
			}
		}
		return false
	})
}

// gapCard is the emulated card that records, per command, how long after
// its previous answer the command arrived, and its own time.
type gapCard struct {
	mu      sync.Mutex
	card    *emu.Card
	last    time.Time
	gaps    []time.Duration
	working time.Duration
}

func (g *gapCard) set(c *emu.Card) { g.mu.Lock(); g.card = c; g.mu.Unlock() }

// reset starts a new issue: the first command has no previous answer,
// and what the agent read of the card on its arrival is not counted.
func (g *gapCard) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.last, g.working, g.gaps = time.Time{}, 0, g.gaps[:0]
}

// busy is the card's own time since reset.
func (g *gapCard) busy() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.working
}

// take returns the gaps since reset.
func (g *gapCard) take() []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.gaps)
}

func (g *gapCard) get() *emu.Card { g.mu.Lock(); defer g.mu.Unlock(); return g.card }
func (g *gapCard) ATR() []byte    { return g.get().ATR() }
func (g *gapCard) PowerOff()      { g.get().PowerOff() }
func (g *gapCard) PowerOn()       { g.get().PowerOn() }
func (g *gapCard) Reset()         { g.get().Reset() }

func (g *gapCard) Transmit(cmd []byte) []byte {
	start := time.Now()
	g.mu.Lock()
	if !g.last.IsZero() {
		g.gaps = append(g.gaps, start.Sub(g.last))
	}
	c := g.card
	g.mu.Unlock()
	r := c.Transmit(cmd)
	end := time.Now()
	g.mu.Lock()
	g.last = end
	g.working += end.Sub(start)
	g.mu.Unlock()
	return r
}

// BenchmarkClusterIssuance is certificate issuance (POST
// /api/v1/certificates, as BenchmarkIssuance/http-postgres) with 1, 2
// and 3 replicas on one PostgreSQL, 64 concurrent clients spread evenly
// over the replicas. On one machine the replicas share its cores with
// PostgreSQL: the figures show what coordination costs (the audit
// chain's lock, the serial's uniqueness), not how a cluster scales on
// separate hosts (docs/deployment.md).
func BenchmarkClusterIssuance(b *testing.B) {
	bin := clustertest.Build(b, b.TempDir())
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			c := clustertest.Start(b, bin, clustertest.Options{Replicas: n, LogLevel: "warn"})
			admin := c.Replicas[0].Admin()
			if _, err := admin.Post(context.Background(), "/api/v1/templates", lanyard.Template{
				Name: "bench-p256", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 30,
				KeyUsage: []string{lanyard.KUDigitalSignature}, ExtKeyUsage: []string{lanyard.EKUClientAuth},
				Subject: lanyard.SubjectSpec{CommonName: "{display_name}"},
			}, nil); err != nil {
				b.Fatal(err)
			}
			benchClusterHTTP(b, c)
		})
	}
}

func benchClusterHTTP(b *testing.B, c *clustertest.Cluster) {
	const keys = 64
	bodies := make([][]byte, keys)
	for i := range bodies {
		spki, _ := x509.MarshalPKIXPublicKey(mustKey(b).Public())
		bodies[i], _ = json.Marshal(apiv1.IssueInput{Template: "bench-p256", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	var next atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each client sticks to one replica, the clients spread evenly.
		r := c.Replicas[int(next.Add(1))%len(c.Replicas)]
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest("POST", r.URL+"/api/v1/certificates", bytes.NewReader(bodies[i%keys]))
			i++
			req.Header.Set("Authorization", "Bearer "+c.AdminToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Errorf("replica %s: status %d", clustertest.Name(r.Index), resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
