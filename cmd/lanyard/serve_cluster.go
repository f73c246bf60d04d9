package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/cluster"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// webCluster is cl as the web layer's Cluster, nil without one (a nil
// *Cluster would be a non-nil interface).
func webCluster(cl *cluster.Cluster) web.Cluster {
	if cl == nil {
		return nil
	}
	return cl
}

// joinCluster starts the peer listener (mutual TLS, certificates of the
// built-in machine CA for this replica) and registers the replica, so
// that other replicas find this one's agents and forward card requests
// to it (docs/architecture.md, "Cluster").
func joinCluster(ctx context.Context, c serveConfig, svc *service.Service, cl *cluster.Cluster, webSrv *web.Server, log *slog.Logger, errc chan<- error) (*http.Server, error) {
	ln, err := net.Listen("tcp", c.peerListen)
	if err != nil {
		return nil, fmt.Errorf("--peer-listen: %w", err)
	}
	peerURL := c.peerURL
	if peerURL == "" {
		peerURL = "https://" + ln.Addr().String()
	}
	u, err := url.Parse(peerURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		ln.Close()
		return nil, fmt.Errorf("--peer-url %q: want https://HOST:PORT", peerURL)
	}
	hosts := []string{u.Hostname()}
	if h, _, err := net.SplitHostPort(ln.Addr().String()); err == nil && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	for _, h := range []string{"127.0.0.1", "localhost"} {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	certs, err := svc.Workstations.ReplicaCertificates(ctx, cl.ID(), hosts)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("replica certificates: %w", err)
	}
	agentURL := c.agentURL // else set once the agent listener listens (SetAgentURL)
	peer := &cluster.PeerTLS{Server: certs.Server, Client: certs.Client, Root: certs.Root,
		// At half their validity the heartbeat issues new ones
		// (docs/architecture.md, "Cluster").
		Renew: func(ctx context.Context) (*tls.Certificate, *tls.Certificate, error) {
			certs, err := svc.Workstations.ReplicaCertificates(ctx, cl.ID(), hosts)
			if err != nil {
				return nil, nil, err
			}
			return certs.Server, certs.Client, nil
		}}
	srv := &http.Server{
		Handler: cl.PeerHandler(webSrv.ForwardedHandler()), TLSConfig: cl.ServerTLS(peer),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 60 * time.Second, WriteTimeout: 3 * time.Minute, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if err := cl.Start(ctx, cluster.Membership{PeerURL: peerURL, AgentURL: agentURL, TLS: peer}); err != nil {
		ln.Close()
		return nil, fmt.Errorf("registering the replica: %w", err)
	}
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	log.Info("peer listener ready", "addr", ln.Addr().String(), "url", peerURL, "replica", cl.ID(), "hosts", hosts)
	fmt.Fprintf(os.Stderr, "Peer listener at https://%s (replica %s)\n", ln.Addr(), cl.ID())
	return srv, nil
}
