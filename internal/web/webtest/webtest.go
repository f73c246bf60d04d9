// Package webtest starts a whole Lanyard server for tests and benchmarks:
// a real store, the built-in CA, the service and the HTTP handler on an
// httptest listener. Nothing is faked. The service stack is built by
// internal/service/servicetest, as in the service's own tests.
package webtest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/cluster"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// Server is a running Lanyard server.
type Server struct {
	URL        string // base URL, e.g. http://127.0.0.1:PORT
	AdminToken string // the first-start administrator token
	Service    *service.Service
	Store      lanyard.Store
	Sealer     *seal.AESGCM
	CA         ca.CA // the built-in CA
	Web        *web.Server
	// AgentURL is the agent listener, https://127.0.0.1:PORT, with its
	// certificate from the built-in CA (SANs 127.0.0.1 and localhost).
	AgentURL string
	Hub      *agenthub.Hub
	// Mailer is the service's notifier and the notifications API's
	// backend; no worker runs: tests deliver with Mailer.DeliverDue.
	Mailer *notify.Mailer
	// Monitor is the Card Monitor, whose counts /metrics reports; it
	// does not run on its own: tests call RunOnce.
	Monitor *monitor.Monitor
	// Key is the master key (give it to another replica on the same
	// database: Options.Key).
	Key []byte
	// Cluster is the replica's membership, PeerURL its peer listener
	// (Options.Replica).
	Cluster *cluster.Cluster
	PeerURL string
}

// Start runs a first start of Lanyard on st with a random master key and
// stops everything (closing st) when the test ends.
func Start(tb testing.TB, st lanyard.Store) *Server {
	tb.Helper()
	return StartWith(tb, st, Options{})
}

// Options adjust a test server.
type Options struct {
	// Now is the clock of the service and the CA (default time.Now), for
	// tests of expiry.
	Now func() time.Time
	// Notifier receives the service's e-mail notifications (default: none).
	Notifier service.Notifier
	// Heartbeat is the agent connections' ping interval (default
	// AgentHeartbeat); a benchmark with many busy agents uses the
	// production value, agentproto.DefaultHeartbeat.
	Heartbeat time.Duration
	// PairLimits overrides the agent listener's pairing limit per address
	// (agenthub.PairLimits): benchmarks pair hundreds of agents from one
	// address.
	PairLimits *auth.Limits
	// SMTPRootCAs verifies test SMTP servers' certificates.
	SMTPRootCAs *x509.CertPool
	// Cards, when set, is given the hub's card access and returns the
	// card access of the service's card workflows (benchmarks time the
	// hub's, or use in-process cards).
	Cards func(hub lanyard.CardAccess) lanyard.CardAccess
	// Key is the master key (default: random). A second server on the
	// store of a first one (another replica) needs the first one's
	// Server.Key; its AdminToken is then empty.
	Key []byte
	// Replica makes the server a replica of a cluster on its store
	// (PostgreSQL), as lanyard serve does with --database: registered,
	// with a peer listener on loopback, card requests forwarded to the
	// replica holding the workstation (internal/cluster).
	Replica bool
	// ReplicaHeartbeat is the replica's heartbeat (default 1 s: a loaded
	// test machine must not miss five).
	ReplicaHeartbeat time.Duration
}

// StartWith is Start with options.
func StartWith(tb testing.TB, st lanyard.Store, opts Options) *Server {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = AgentHeartbeat
	}
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	var mailer *notify.Mailer
	var hub *agenthub.Hub
	var cl *cluster.Cluster
	if opts.Replica {
		if opts.ReplicaHeartbeat <= 0 {
			opts.ReplicaHeartbeat = time.Second
		}
		var err error
		if cl, err = cluster.New(cluster.Config{Store: st, Heartbeat: opts.ReplicaHeartbeat}); err != nil {
			tb.Fatal(err)
		}
	}
	agents := func(ws *workstations.Workstations) lanyard.CardAccess {
		hub = agenthub.New(agenthub.Config{Workstations: ws, Heartbeat: opts.Heartbeat, PairLimits: opts.PairLimits})
		access := hub.CardAccess()
		if cl != nil {
			cl.SetHub(hub)
			hub.SetCluster(cl)
			access = cl.CardAccess()
		}
		if opts.Cards != nil {
			return opts.Cards(access)
		}
		return access
	}
	stack := servicetest.New(tb, servicetest.Options{Store: st, Key: opts.Key, Now: opts.Now, CANow: opts.Now, BaseURL: base, Notifier: opts.Notifier, Agents: agents,
		NewNotifier: func(store lanyard.Store, sealer *seal.AESGCM) service.Notifier {
			m, err := notify.New(notify.Config{Store: store, Sealer: sealer, Now: opts.Now, Rand: rand.Reader, BaseURL: base,
				Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 5 * time.Second, RootCAs: opts.SMTPRootCAs})
			if err != nil {
				tb.Fatal(err)
			}
			mailer = m
			return m
		}})
	svc, tok := stack.Service, stack.Token
	hub.SetUnblocker(svc.AgentUnblock())
	unfollow := hub.Follow(st.Notices())
	if tok == "" && opts.Key == nil {
		tb.Fatal("first-start setup made no administrator token")
	}
	stopArrivals := handleArrivals(svc, hub)
	mon, err := monitor.New(monitor.Config{Store: st, Now: opts.Now, Notifier: mailer})
	if err != nil {
		tb.Fatal(err)
	}
	var webCluster web.Cluster
	single := &cluster.Single{Store: st, ID: cluster.NewID(), StartedAt: opts.Now(), Agents: hub.Counts, Now: opts.Now}
	var replicas web.ClusterStatus = single
	if cl != nil {
		webCluster, replicas = cl, cl
	}
	srv := web.New(web.Config{Cluster: webCluster, Replicas: replicas, Identity: svc.Identity, Catalog: svc.Catalog, PKI: svc.PKI,
		Documents: svc.Documents, Workstations: svc.Workstations, Cards: svc.Cards, Audit: svc.Audit, Archive: svc.Archive, Directory: svc.Directory, Ready: st, Agents: hub, Notifications: mailer, Provisioning: svc.Provisioning,
		SSO: svc.SSO, Sessions: svc.Identity,
		ContentCounts: mon, Now: opts.Now})
	hs.Config.Handler = srv.Handler()
	hs.Start()
	var peerURL string
	stopPeer := func() {}
	if cl != nil {
		peerURL, stopPeer = startPeerListener(tb, svc, cl, srv)
	}
	agentURL, stopAgents := startAgentListener(tb, hub)
	single.SetAgentURL(agentURL)
	if cl != nil {
		if err := cl.SetAgentURL(context.Background(), agentURL); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() { unfollow(); stopAgents(); stopPeer(); stopArrivals(); hs.Close() }) // before the stack's cleanup closes the service and st
	return &Server{URL: base, AdminToken: tok, Service: svc, Store: st, Sealer: stack.Sealer, CA: stack.CA, Web: srv, AgentURL: agentURL, Hub: hub, Mailer: mailer, Monitor: mon,
		Key: stack.Key, Cluster: cl, PeerURL: peerURL}
}

// startPeerListener serves cl's peer listener on loopback with the
// replica's certificates and registers the replica, as lanyard serve
// does with --database; stop deregisters it.
func startPeerListener(tb testing.TB, svc *service.Service, cl *cluster.Cluster, srv *web.Server) (url string, stop func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	certs, err := svc.Workstations.ReplicaCertificates(context.Background(), cl.ID(), []string{"127.0.0.1", "localhost"})
	if err != nil {
		tb.Fatal(err)
	}
	peer := &cluster.PeerTLS{Server: certs.Server, Client: certs.Client, Root: certs.Root}
	url = "https://" + ln.Addr().String()
	if err := cl.Start(context.Background(), cluster.Membership{PeerURL: url, TLS: peer}); err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: cl.PeerHandler(srv.ForwardedHandler()), TLSConfig: cl.ServerTLS(peer), ReadHeaderTimeout: 10 * time.Second}
	go hs.ServeTLS(ln, "", "")
	return url, func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cl.Close(ctx)
	}
}

// handleArrivals runs the service's handling of the cards that arrive at
// the hub's workstations, as lanyard serve does, until stop.
func handleArrivals(svc *service.Service, hub *agenthub.Hub) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Cards.HandleArrivals(ctx, hub.Arrivals()) }()
	return func() { cancel(); <-done }
}

// AgentHeartbeat is the agent connections' ping interval in test servers:
// short, so that tests of dead peers take a second, not fifteen.
const AgentHeartbeat = 300 * time.Millisecond

// startAgentListener serves the hub on a loopback TLS listener, as
// lanyard serve --agent-listen does.
func startAgentListener(tb testing.TB, hub *agenthub.Hub) (url string, stop func()) {
	tb.Helper()
	cfg, err := hub.TLSConfig(context.Background(), []string{"127.0.0.1", "localhost"})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	hs := &http.Server{Handler: hub.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(tls.NewListener(ln, cfg))
	return "https://" + ln.Addr().String(), func() { hs.Close(); hub.Close() }
}
