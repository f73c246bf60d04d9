package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/ca"
	_ "github.com/lanyard-cms/lanyard/internal/ca/builtin" // registers the "builtin" CA kind
	"github.com/lanyard-cms/lanyard/internal/cluster"
	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// serveConfig is everything `lanyard serve` is told.
type serveConfig struct {
	data, listen, database, baseURL string
	caKeyAlg, masterKeyFile         string
	tlsCert, tlsKey                 string
	agentListen                     string
	agentProxyProtocol              string // load balancers whose agent connections carry a PROXY header (agentproxy.go)
	logLevel                        string
	trustProxy                      bool
	bootstrapTTL                    time.Duration
	trustedProxies                  string
	secureCookies                   *bool // nil: from --url's scheme
	demo                            bool
	aircard, aircardKEK             string
	cardMonitor                     time.Duration // Card Monitor interval; 0: off
	directorySync                   time.Duration // directory sources' default sync interval; 0: no periodic sync
	keyRecoveryTTL                  time.Duration // how long a key recovery request waits for its decision
	peerListen, peerURL, agentURL   string        // the cluster's peer link (PostgreSQL only)
	replicaHeartbeat                time.Duration
}

func runServe(ctx context.Context, args []string) error {
	c, err := parseServe(args)
	if err != nil {
		return err
	}
	return serve(ctx, c)
}

// parseServe reads serve's flags.
func parseServe(args []string) (serveConfig, error) {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.data, "data", envOr("LANYARD_DATA", "./data"), "data directory: SQLite database, master key, bootstrap token (LANYARD_DATA)")
	fs.StringVar(&c.listen, "listen", envOr("LANYARD_LISTEN", "127.0.0.1:8080"), "address to listen on (LANYARD_LISTEN)")
	fs.StringVar(&c.database, "database", os.Getenv("LANYARD_DATABASE"), "postgres://… to use PostgreSQL instead of SQLite (LANYARD_DATABASE)")
	fs.StringVar(&c.baseURL, "url", os.Getenv("LANYARD_URL"), "public base URL put in certificates' CRL and OCSP URLs (default http(s)://LISTEN)")
	fs.StringVar(&c.caKeyAlg, "ca-key-algorithm", "ecp256", "key algorithm of a new built-in CA: ecp256, ecp384, rsa2048, rsa3072, rsa4096")
	fs.StringVar(&c.masterKeyFile, "master-key-file", "", "master key file (default DATA/master.key; "+seal.EnvMasterKey+" takes precedence)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key serves HTTPS, where Lanyard-issued cards also sign in (client certificates, docs/security.md)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&c.demo, "demo", false, "demo mode: a demo user, a demo policy and an in-process agent with an emulated PIV card (no hardware needed)")
	fs.StringVar(&c.agentListen, "agent-listen", envOr("LANYARD_AGENT_LISTEN", "127.0.0.1:8443"), "address of the agents' TLS listener; empty disables it (LANYARD_AGENT_LISTEN)")
	fs.StringVar(&c.agentProxyProtocol, "agent-proxy-protocol", os.Getenv("LANYARD_AGENT_PROXY_PROTOCOL"),
		"load balancers (addresses or CIDR ranges, comma-separated) that forward agent connections in TCP mode with a PROXY protocol v1/v2 header: required from them, refused from any other address, so the throttles and logs see the agent's own address (LANYARD_AGENT_PROXY_PROTOCOL)")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.aircard, "aircard", "", "run the AirCard service in this process, its AirCards in this directory (the demo: DATA/aircard)")
	fs.StringVar(&c.aircardKEK, "aircard-kek", "", "key-encryption key of the built-in AirCard service: file:PATH (default file:AIRCARD/kek.key) or pkcs11:module=...;token=...;key=...;pin-env=VAR")
	fs.DurationVar(&c.keyRecoveryTTL, "key-recovery-ttl", archive.DefaultRecoveryTTL, "how long a request to recover someone else's archived key waits for an administrator's decision before it expires")
	fs.DurationVar(&c.cardMonitor, "card-monitor-interval", monitor.DefaultInterval, "how often the Card Monitor looks for expiring and expired certificates on cards (once across replicas); 0 turns it off")
	fs.DurationVar(&c.directorySync, "directory-sync-interval", directory.DefaultInterval, "how often a directory source that sets no interval of its own is synced (once across replicas); 0 turns the periodic sync off (Sync now still works)")
	fs.StringVar(&c.peerListen, "peer-listen", os.Getenv("LANYARD_PEER_LISTEN"), "with --database: address of the mutual-TLS listener other replicas of the cluster call (default 127.0.0.1:0, enough for replicas on one host; set a reachable address for a cluster of hosts); \"off\" runs no cluster (LANYARD_PEER_LISTEN)")
	fs.StringVar(&c.peerURL, "peer-url", os.Getenv("LANYARD_PEER_URL"), "how other replicas reach this one's peer listener (default https://PEER-LISTEN's actual address) (LANYARD_PEER_URL)")
	fs.StringVar(&c.agentURL, "agent-url", os.Getenv("LANYARD_AGENT_URL"), "the agent listener's address as agents see it, e.g. a load balancer's https://lb:8443 (default https://AGENT-LISTEN) (LANYARD_AGENT_URL)")
	fs.DurationVar(&c.replicaHeartbeat, "replica-heartbeat", cluster.DefaultHeartbeat, "how often a replica renews its registration in the cluster; one silent for 5 heartbeats counts as gone and its agents as offline")
	fs.DurationVar(&c.bootstrapTTL, "bootstrap-ttl", service.DefaultBootstrapTokenTTL, "lifetime of the administrator token written to DATA/bootstrap-token on first start, e.g. 2h")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", os.Getenv("LANYARD_TRUSTED_PROXIES"),
		"the reverse proxies' own addresses, e.g. 192.0.2.10,192.0.2.11: a request from one of them is attributed to the rightmost X-Forwarded-For address not in this list. List only the proxies: a range that also holds clients lets them choose the address they are throttled and audited under (LANYARD_TRUSTED_PROXIES)")
	fs.BoolVar(&c.trustProxy, "trust-proxy", false, "a reverse proxy on this host: the same as adding 127.0.0.0/8,::1 to --trusted-proxies")
	secure := fs.Bool("secure-cookies", false, "browsers reach the server over HTTPS (e.g. through a TLS-terminating proxy): Secure __Host- session cookie and HSTS (default: on when --url is https)")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return c, errUsage
	}
	// The first start mints the token under the token policy, which
	// allows DefaultTokenTTL until an administrator changes it.
	if c.bootstrapTTL <= 0 || c.bootstrapTTL > identity.DefaultTokenTTL {
		return c, fmt.Errorf("--bootstrap-ttl %s: want a duration above 0 and at most %dh (%d days, the most the token policy allows on first start)",
			c.bootstrapTTL, int(identity.DefaultTokenTTL.Hours()), int(identity.DefaultTokenTTL.Hours()/24))
	}
	if c.replicaHeartbeat <= 0 {
		return c, fmt.Errorf("--replica-heartbeat %s: want a duration above 0", c.replicaHeartbeat)
	}
	switch {
	case c.database == "" && c.peerListen != "" && c.peerListen != "off":
		return c, errors.New("--peer-listen: a cluster needs PostgreSQL (--database); SQLite serves one server")
	case c.database == "":
		c.peerListen = ""
	case c.peerListen == "":
		c.peerListen = "127.0.0.1:0"
	case c.peerListen == "off":
		c.peerListen = ""
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "secure-cookies" {
			c.secureCookies = secure
		}
	})
	return c, nil
}

func serve(ctx context.Context, c serveConfig) error {
	start := time.Now()
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if c.masterKeyFile == "" {
		c.masterKeyFile = filepath.Join(c.data, "master.key")
	}
	key, created, err := seal.LoadMasterKey(c.masterKeyFile, true)
	if err != nil {
		return err
	}
	if created {
		log.Warn("created a new master key; back it up; without it sealed CA keys and secrets cannot be opened", "file", c.masterKeyFile)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	if c.baseURL == "" {
		scheme := "http"
		if c.tlsCert != "" {
			scheme = "https"
		}
		c.baseURL = scheme + "://" + ln.Addr().String()
	}
	c.baseURL = strings.TrimRight(c.baseURL, "/")
	secure, proxies, err := c.edge()
	if err != nil {
		return err
	}

	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	authority, err := ca.New(ctx, "builtin", ca.Config{
		Name: "builtin", Store: st, Sealer: sealer, BaseURL: c.baseURL, Now: time.Now, Rand: rand.Reader,
		Options: map[string]string{"key_algorithm": c.caKeyAlg},
	})
	if err != nil {
		return fmt.Errorf("built-in CA: %w", err)
	}
	// E-mail notifications: the outbox worker runs until shutdown; SMTP
	// settings are made in the console (Notifications).
	mailer, err := notify.New(notify.Config{Store: st, Sealer: sealer, Now: time.Now, Rand: rand.Reader, Log: log, BaseURL: c.baseURL})
	if err != nil {
		return err
	}
	bootstrap := newBootstrapTokenFile(c.data, log)
	// The agent hub serves the workstations capability and gives the card
	// workflows their card access: the service builds it in that order.
	var hub *agenthub.Hub
	var cl *cluster.Cluster
	// The replica's ID, random per start, also names this process in the
	// cluster-wide jobs' lease rows, so that the view of the cluster
	// (GET /api/v1/replicas) says which replica runs each.
	replicaID := cluster.NewID()
	jobHolder := jobs.ReplicaHolder(replicaID)
	if c.peerListen != "" {
		if cl, err = cluster.New(cluster.Config{Store: st, ID: replicaID, Heartbeat: c.replicaHeartbeat, Now: time.Now, Log: log}); err != nil {
			return err
		}
	}
	svc, err := service.New(service.Config{Store: st, Sealer: sealer, CAs: []ca.CA{authority}, Now: time.Now, Rand: rand.Reader, Log: log, BaseURL: c.baseURL,
		Notifier: mailer, BootstrapTokenTTL: c.bootstrapTTL, KeyRecoveryTTL: c.keyRecoveryTTL, DirectoryInterval: c.directorySync, JobHolder: jobHolder, TokensRevoked: func() { bootstrap.check(context.WithoutCancel(ctx)) },
		Agents: func(ws *workstations.Workstations) lanyard.CardAccess {
			hub = agenthub.New(agenthub.Config{Workstations: ws, Log: log})
			if cl != nil {
				// The card workflows see every replica's agents.
				cl.SetHub(hub)
				hub.SetCluster(cl)
				return cl.CardAccess()
			}
			return hub.CardAccess()
		}})
	if err != nil {
		return err
	}
	defer svc.Close()
	defer hub.Close()
	defer hub.Follow(st.Notices())()     // revocations on any replica drop connections here
	hub.SetUnblocker(svc.AgentUnblock()) // lanyard agent unblock
	bootstrap.svc = svc
	token, err := svc.Setup(ctx)
	if err != nil {
		return fmt.Errorf("first-start setup: %w", err)
	}
	tokenFile := bootstrap.path
	if token != "" {
		if err := bootstrap.write(token); err != nil {
			return err
		}
	} else {
		bootstrap.check(ctx) // revoked or expired while this server was down
	}
	arrivalsCtx, stopArrivals := context.WithCancel(ctx)
	arrivalsDone := make(chan struct{})
	go func() { defer close(arrivalsDone); svc.Cards.HandleArrivals(arrivalsCtx, hub.Arrivals()) }()
	defer func() { stopArrivals(); <-arrivalsDone }()
	var mon *monitor.Monitor
	var counts web.ContentCounts // a nil *Monitor would be a non-nil interface
	if c.cardMonitor > 0 {
		if mon, err = monitor.New(monitor.Config{Store: st, Now: time.Now, Log: log, Notifier: mailer, Interval: c.cardMonitor, Holder: jobHolder}); err != nil {
			return err
		}
		counts = mon
	}
	// The view of the cluster: a replica reads the directory; a single
	// server is a cluster of one.
	var replicas web.ClusterStatus
	single := &cluster.Single{Store: st, ID: replicaID, StartedAt: start, Agents: hub.Counts, Now: time.Now}
	if cl != nil {
		replicas = cl
	} else {
		replicas = single
	}
	webSrv := web.New(web.Config{Replicas: replicas, ContentCounts: counts, Identity: svc.Identity, Catalog: svc.Catalog, PKI: svc.PKI, Documents: svc.Documents,
		Workstations: svc.Workstations, Cards: svc.Cards, Audit: svc.Audit, Archive: svc.Archive, Directory: svc.Directory, SSO: svc.SSO, Sessions: svc.Identity, Ready: st, Log: log, SecureCookies: secure, TrustedProxies: proxies, Version: version,
		Agents: hub, Notifications: mailer, Provisioning: svc.Provisioning, Cluster: webCluster(cl)})
	srv := &http.Server{
		// ConnContext: the connection age the card routes judge
		// (web.CardConnectionMaxAge).
		Handler: webSrv.Handler(), ConnContext: webSrv.ConnContext,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go background(ctx, st, svc, bootstrap, jobHolder, log)
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() { defer close(workerDone); mailer.Run(workerCtx) }()
	if mon != nil {
		// The Card Monitor: once across replicas (its lease row), until
		// shutdown; it stops with the mail worker, before the store closes.
		monitorDone := make(chan struct{})
		go func() { defer close(monitorDone); mon.Run(workerCtx) }()
		defer func() { stopWorker(); <-monitorDone }()
	}
	if c.directorySync > 0 {
		// The directory sources' periodic sync: each source once across
		// replicas (its lease row), until shutdown, before the store closes.
		syncDone := make(chan struct{})
		go func() { defer close(syncDone); svc.Directory.Run(workerCtx) }()
		defer func() { stopWorker(); <-syncDone }()
	}
	// Stop the mail worker before the store closes (deferred earlier, so
	// run later): the delivery in progress is recorded first.
	defer func() { stopWorker(); <-workerDone }()
	errc := make(chan error, 3)
	go func() {
		if c.tlsCert != "" {
			// Client certificates are requested for smart card sign-in
			// and judged by its endpoint (web.ListenerTLSConfig).
			srv.TLSConfig = web.ListenerTLSConfig()
			errc <- srv.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	var peerSrv *http.Server
	if cl != nil {
		// The peer listener and the registration come before the agent
		// listener: the routes of the first agents must lead here.
		if peerSrv, err = joinCluster(ctx, c, svc, cl, webSrv, log, errc); err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cl.Close(ctx) // deregistered: its agents reconnect elsewhere
		}()
	}
	var agentSrv *http.Server
	var agentURL string
	if c.agentListen != "" {
		if agentSrv, agentURL, err = serveAgents(ctx, c, hub, log, errc); err != nil {
			return err
		}
		single.SetAgentURL(cmpOr(c.agentURL, agentURL))
		if cl != nil && c.agentURL == "" {
			if err := cl.SetAgentURL(ctx, agentURL); err != nil {
				return fmt.Errorf("registering the replica: %w", err)
			}
		}
	}
	if c.demo && c.aircard == "" {
		c.aircard = filepath.Join(c.data, "aircard")
	}
	if c.aircard != "" {
		if agentURL == "" {
			return errors.New("--aircard needs the agent listener (--agent-listen)")
		}
		if err := startAirCardService(ctx, svc, c.aircard, c.aircardKEK, agentURL, log); err != nil {
			return fmt.Errorf("AirCard service: %w", err)
		}
	}
	var demoBanner string
	if c.demo {
		if agentURL == "" {
			return errors.New("--demo needs the agent listener (--agent-listen)")
		}
		if demoBanner, err = startDemo(ctx, svc, c.data, agentURL, log); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if renewed, err := bootstrap.renewForDemo(ctx, svc, c.bootstrapTTL.String()); err != nil {
			log.Warn("the demo's administrator token was not renewed", "err", err)
		} else if renewed {
			fmt.Fprintf(os.Stderr, "Demo: a new administrator API token is in %s (the previous one was revoked or expired)\n", tokenFile)
		}
	}
	log.Info("lanyard ready", "url", c.baseURL, "store", st.Engine(), "startup", time.Since(start).String())
	fmt.Fprintf(os.Stderr, "Lanyard is ready at %s\n", c.baseURL)
	if token != "" {
		fmt.Fprintf(os.Stderr, "First start: the administrator API token is in %s (export LANYARD_TOKEN=$(cat %s)); it expires in %s: create named staff accounts with it\n", tokenFile, tokenFile, c.bootstrapTTL)
	}
	if demoBanner != "" {
		fmt.Fprint(os.Stderr, demoBanner)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if agentSrv != nil {
		agentSrv.Shutdown(shutdownCtx)
	}
	if peerSrv != nil {
		peerSrv.Shutdown(shutdownCtx)
	}
	return srv.Shutdown(shutdownCtx)
}

func openStore(ctx context.Context, c serveConfig) (lanyard.Store, error) {
	if c.database != "" {
		if !strings.HasPrefix(c.database, "postgres://") && !strings.HasPrefix(c.database, "postgresql://") {
			return nil, errors.New("--database must be a postgres:// URL (SQLite is the default and needs no flag)")
		}
		return postgres.Open(ctx, c.database)
	}
	return sqlite.Open(ctx, filepath.Join(c.data, "lanyard.db"))
}

// writeSecretFile writes a secret readable only by the owner.
func writeSecretFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// edge reads the flags about what stands between browsers and the server:
// whether browsers reach it over HTTPS (--secure-cookies, by default the
// scheme of --url, which covers a TLS-terminating proxy) and which reverse
// proxies' X-Forwarded-For to believe.
func (c serveConfig) edge() (secure bool, proxies []net.IPNet, err error) {
	secure = strings.HasPrefix(strings.ToLower(c.baseURL), "https://")
	if c.secureCookies != nil {
		secure = *c.secureCookies
	}
	list := c.trustedProxies
	if c.trustProxy {
		list += ",127.0.0.0/8,::1"
	}
	if proxies, err = web.ParseTrustedProxies(list); err != nil {
		return false, nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return secure, proxies, nil
}

// serveAgents starts the agent listener: always TLS, with a server
// certificate the built-in CA issues now for the host of --url plus
// 127.0.0.1 and localhost.
func serveAgents(ctx context.Context, c serveConfig, hub *agenthub.Hub, log *slog.Logger, errc chan<- error) (*http.Server, string, error) {
	hosts := []string{"127.0.0.1", "localhost"}
	if u, err := url.Parse(c.baseURL); err == nil && u.Hostname() != "" && !slices.Contains(hosts, u.Hostname()) {
		hosts = append([]string{u.Hostname()}, hosts...)
	}
	if h, _, err := net.SplitHostPort(c.agentListen); err == nil && h != "" && h != "0.0.0.0" && h != "::" && !slices.Contains(hosts, h) {
		hosts = append(hosts, h)
	}
	cfg, err := hub.TLSConfig(ctx, hosts)
	if err != nil {
		return nil, "", fmt.Errorf("agent listener certificate: %w", err)
	}
	tcp, err := net.Listen("tcp", c.agentListen)
	if err != nil {
		return nil, "", fmt.Errorf("--agent-listen: %w", err)
	}
	// Behind an L4 load balancer the agents' address comes in the PROXY
	// header, under TLS's feet: TLS stays end to end.
	ln, err := agentProxyListener(tcp, c.agentProxyProtocol)
	if err != nil {
		tcp.Close()
		return nil, "", err
	}
	srv := &http.Server{
		Handler: hub.Handler(), ReadHeaderTimeout: 10 * time.Second,
		// Hijacked agent connections leave these timeouts behind; the pair
		// long poll needs more than agentproto.PollWait to write.
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { errc <- srv.Serve(tls.NewListener(ln, cfg)) }()
	log.Info("agent listener ready", "addr", ln.Addr().String(), "hosts", hosts, "proxy_protocol_from", c.agentProxyProtocol)
	fmt.Fprintf(os.Stderr, "Agents connect to https://%s (lanyard agent --server https://%s)\n", ln.Addr(), ln.Addr())
	return srv, "https://" + ln.Addr().String(), nil
}
