package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// Options shape a cluster.
type Options struct {
	// Replicas is how many `lanyard serve` processes start (default 2).
	Replicas int
	// HAProxy puts Debian's HAProxy in front: an HTTP frontend over every
	// replica's API and pages (health-checked on /readyz), a TCP frontend
	// over every agent listener, and one TCP frontend per replica's agent
	// listener (an agent pinned to a replica through the proxy). The
	// agent listeners then take the PROXY protocol from HAProxy's
	// AgentSource (--agent-proxy-protocol).
	HAProxy bool
	// Heartbeat is --replica-heartbeat (0: the server's default).
	Heartbeat time.Duration
	// Database is the PostgreSQL URL (default: a fresh schema on
	// LANYARD_TEST_POSTGRES, dropped when the test ends).
	Database string
	// Args adds flags to replica i's `lanyard serve`.
	Args func(i int) []string
	// LogLevel of the replicas (default info).
	LogLevel string
}

// Cluster is the running cluster of one test.
type Cluster struct {
	tb       testing.TB
	Bin      string
	Database string
	Dir      string
	KeyFile  string // the master key file every replica reads
	// AdminToken is the bootstrap administrator token the first replica
	// wrote on first start.
	AdminToken string
	Replicas   []*Replica
	Proxy      *HAProxy // nil without Options.HAProxy
	opts       Options
	flags      map[string]bool
}

// Replica is one `lanyard serve` process.
type Replica struct {
	*Proc
	c     *Cluster
	Index int
	Dir   string // its data directory
	// URL is the API and pages (http://127.0.0.1:PORT), AgentURL the
	// agent listener (https://127.0.0.1:PORT), PeerURL the peer listener
	// and ID the replica ID it registered (both empty when this lanyard
	// has no --peer-listen).
	URL, AgentURL, PeerURL, ID      string
	listen, agentListen, peerListen string
}

var (
	reReady = regexp.MustCompile(`^Lanyard is ready at (\S+)`)
	reAgent = regexp.MustCompile(`^Agents connect to (https://\S+)`)
	rePeer  = regexp.MustCompile(`^Peer listener at (https://\S+) \(replica ([0-9a-fA-F]+)\)`)
	reFlag  = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
)

var serveFlags struct {
	sync.Mutex
	byBin map[string]map[string]bool
}

// ServeFlags lists the flags of bin's `lanyard serve` (from -h).
func ServeFlags(tb testing.TB, bin string) map[string]bool {
	tb.Helper()
	serveFlags.Lock()
	defer serveFlags.Unlock()
	if f, ok := serveFlags.byBin[bin]; ok {
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, errOut, _ := run(ctx, bin, nil, "", "serve", "-h")
	f := map[string]bool{}
	for _, m := range reFlag.FindAllStringSubmatch(out+errOut, -1) {
		f[m[1]] = true
	}
	if !f["listen"] || !f["database"] {
		tb.Fatalf("%s serve -h lists no --listen/--database:\n%s%s", bin, out, errOut)
	}
	if serveFlags.byBin == nil {
		serveFlags.byBin = map[string]map[string]bool{}
	}
	serveFlags.byBin[bin] = f
	return f
}

// Start starts the cluster: the first replica (which makes the master
// key, the CA and the administrator on first start) until it is ready,
// then the others one by one, then HAProxy.
func Start(tb testing.TB, bin string, opts Options) *Cluster {
	tb.Helper()
	if opts.Replicas == 0 {
		opts.Replicas = 2
	}
	if opts.Database == "" {
		opts.Database = pgtest.FreshSchema(tb)
	}
	c := &Cluster{tb: tb, Bin: bin, Database: opts.Database, Dir: tb.TempDir(), opts: opts, flags: ServeFlags(tb, bin)}
	c.KeyFile = filepath.Join(c.Dir, "master.key")
	if !c.flags["peer-listen"] {
		tb.Logf("this lanyard serve has no --peer-listen: the replicas form no cluster (issue 19's peer work is not in this tree)")
	}
	if opts.HAProxy && !c.flags["agent-proxy-protocol"] {
		tb.Logf("this lanyard serve has no --agent-proxy-protocol: HAProxy connects to the agent listeners without the PROXY protocol")
	}
	for range opts.Replicas {
		c.AddReplica()
	}
	tok, err := os.ReadFile(filepath.Join(c.Replicas[0].Dir, "bootstrap-token"))
	if err != nil {
		tb.Fatalf("the first replica wrote no bootstrap token: %v", err)
	}
	c.AdminToken = strings.TrimSpace(string(tok))
	if opts.HAProxy {
		c.Proxy = startHAProxy(tb, c)
	}
	return c
}

// Has says whether this lanyard serve has the flag.
func (c *Cluster) Has(flag string) bool { return c.flags[flag] }

// AddReplica starts one more replica and waits until it is ready.
func (c *Cluster) AddReplica() *Replica {
	c.tb.Helper()
	i := len(c.Replicas)
	r := &Replica{c: c, Index: i, Dir: filepath.Join(c.Dir, "replica-"+Name(i)),
		listen: "127.0.0.1:0", agentListen: "127.0.0.1:0", peerListen: "127.0.0.1:0"}
	r.Proc = startProc(c.tb, "replica "+Name(i), c.Bin, nil, r.args()...)
	r.waitReady(0)
	c.Replicas = append(c.Replicas, r)
	return r
}

// Name is replica i's letter: A, B, C, …
func Name(i int) string { return string(rune('A' + i)) }

// args are the replica's `lanyard serve` arguments.
func (r *Replica) args() []string {
	c := r.c
	a := []string{"serve", "--data", r.Dir, "--database", c.Database, "--master-key-file", c.KeyFile,
		"--listen", r.listen, "--agent-listen", r.agentListen, "--log-level", cmpOr(c.opts.LogLevel, "info")}
	if c.flags["peer-listen"] {
		a = append(a, "--peer-listen", r.peerListen)
	}
	if c.opts.Heartbeat > 0 && c.flags["replica-heartbeat"] {
		a = append(a, "--replica-heartbeat", c.opts.Heartbeat.String())
	}
	if c.opts.HAProxy {
		a = append(a, "--trust-proxy")
		if c.flags["agent-proxy-protocol"] {
			a = append(a, "--agent-proxy-protocol", AgentSource+"/32")
		}
	}
	if c.opts.Args != nil {
		a = append(a, c.opts.Args(r.Index)...)
	}
	return a
}

// waitReady waits for the ready lines printed after the first from and
// keeps the addresses they name.
func (r *Replica) waitReady(from int) {
	r.c.tb.Helper()
	m := r.WaitLineAfter(from, reReady, 60*time.Second)
	r.URL = m[1]
	r.AgentURL = r.WaitLineAfter(from, reAgent, time.Second)[1]
	if r.c.flags["peer-listen"] {
		// Not fatal: the tests say what fails without the peer link.
		if m, err := r.waitLine(from, rePeer, 5*time.Second); err == nil {
			r.PeerURL, r.ID = m[1], m[2]
		} else {
			r.c.tb.Logf("replica %s: %v", Name(r.Index), err)
		}
	}
	// Listen on the same addresses if restarted, so clients, agents and
	// HAProxy find it again.
	r.listen = strings.TrimPrefix(r.URL, "http://")
	r.agentListen = strings.TrimPrefix(r.AgentURL, "https://")
	if r.PeerURL != "" {
		r.peerListen = strings.TrimPrefix(r.PeerURL, "https://")
	}
	r.Proc.args = r.args()
}

// Restart starts a stopped or killed replica again on its addresses and
// data directory, and waits until it is ready.
func (r *Replica) Restart() {
	r.c.tb.Helper()
	mark := r.Lines()
	r.Proc.Restart()
	r.waitReady(mark)
}

// Admin is an API client of the bootstrap administrator through r.
func (r *Replica) Admin() *client.Client { return r.Client(r.c.AdminToken) }

// Client is an API client with token through r.
func (r *Replica) Client(token string) *client.Client {
	r.c.tb.Helper()
	return mustClient(r.c.tb, r.URL, token)
}

func mustClient(tb testing.TB, url, token string) *client.Client {
	tb.Helper()
	c, err := client.New(url, token, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Ready says whether r answers /readyz with 200.
func (r *Replica) Ready() bool {
	return ready(r.URL)
}

func ready(url string) bool {
	hc := &http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// CLI runs `lanyard ARGS` against server (a replica's or HAProxy's URL)
// with token, and returns its output and exit code.
func (c *Cluster) CLI(server, token string, args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	return run(ctx, c.Bin, []string{"LANYARD_SERVER=" + server, "LANYARD_TOKEN=" + token}, "", args...)
}

// Describe names the replicas and their addresses, for failure messages.
func (c *Cluster) Describe() string {
	var b strings.Builder
	for _, r := range c.Replicas {
		fmt.Fprintf(&b, "replica %s: %s, agents %s", Name(r.Index), r.URL, r.AgentURL)
		if r.ID != "" {
			fmt.Fprintf(&b, ", peer %s, id %s", r.PeerURL, r.ID)
		}
		b.WriteString("\n")
	}
	if c.Proxy != nil {
		fmt.Fprintf(&b, "HAProxy: %s, agents %s\n", c.Proxy.URL, c.Proxy.AgentURL)
	}
	return b.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
