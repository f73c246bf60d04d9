package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// TestPeerCertificatesRenew: replica certificates valid for an hour
// (instead of 90 days) are renewed at half their life by the heartbeat:
// the directory gets the new serials, the peer listener and the peer
// client present the new certificates, the link keeps working, and the
// previous client certificate (on connections made before) is accepted
// until it expires, and not after.
func TestPeerCertificatesRenew(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca := newTestCA(t)
	t0 := time.Now()
	clk := &clock{now: t0}
	var renewals atomic.Int32
	// Renewed certificates are valid for four hours from the clock's now.
	renew := func(context.Context) (*tls.Certificate, *tls.Certificate, error) {
		renewals.Add(1)
		from, to := clk.Now().Add(-time.Minute), clk.Now().Add(4*time.Hour)
		return ca.leafFrom(t, x509.ExtKeyUsageServerAuth, from, to), ca.leafFrom(t, x509.ExtKeyUsageClientAuth, from, to), nil
	}
	forwarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	start := func(id string) (*Cluster, *PeerTLS, string) {
		c, err := New(Config{Store: st, ID: id, Heartbeat: time.Second, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		p := &PeerTLS{Server: ca.leafFrom(t, x509.ExtKeyUsageServerAuth, t0.Add(-time.Minute), t0.Add(time.Hour)),
			Client: ca.leafFrom(t, x509.ExtKeyUsageClientAuth, t0.Add(-time.Minute), t0.Add(time.Hour)), Root: ca.root, Renew: renew}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: c.PeerHandler(forwarded), TLSConfig: c.ServerTLS(p)}
		go srv.ServeTLS(ln, "", "")
		url := "https://" + ln.Addr().String()
		if err := c.Start(ctx, Membership{PeerURL: url, TLS: p}); err != nil {
			t.Fatal(err)
		}
		c.stop() // beats by hand
		<-c.done
		t.Cleanup(func() { srv.Close(); c.Close(ctx) })
		return c, p, url
	}
	a, tlsA, _ := start("aaaa")
	b, tlsB, urlB := start("bbbb")
	forward := func(when string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "/api/v1/issue", nil)
		resp, err := a.Forward(ctx, "bbbb", req)
		if err != nil {
			t.Fatalf("%s: forwarding A → B: %v", when, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("%s: forwarding A → B: %s", when, resp.Status)
		}
	}
	row := func(id string) *lanyard.Replica {
		t.Helper()
		var out *lanyard.Replica
		if err := st.View(ctx, func(tx lanyard.Tx) error {
			list, err := tx.LiveReplicas(clk.Now())
			for _, r := range list {
				if r.ID == id {
					out = r
				}
			}
			return err
		}); err != nil || out == nil {
			t.Fatalf("replica %s: %v %v", id, out, err)
		}
		return out
	}
	forward("before the renewal")

	clk.Add(20 * time.Minute) // before half-life: nothing renewed
	beatBoth(ctx, a, b)
	if n := renewals.Load(); n != 0 {
		t.Fatalf("%d renewals before half the certificates' life", n)
	}
	clk.Add(11 * time.Minute) // past half-life
	beatBoth(ctx, a, b)
	if n := renewals.Load(); n != 2 {
		t.Fatalf("%d renewals past half the certificates' life, want one per replica", n)
	}
	ra, rb := row("aaaa"), row("bbbb")
	if ra.ClientSerial == serialOf(tlsA.Client.Leaf) || ra.ServerSerial == serialOf(tlsA.Server.Leaf) ||
		rb.ClientSerial == serialOf(tlsB.Client.Leaf) || rb.ServerSerial == serialOf(tlsB.Server.Leaf) {
		t.Fatalf("the directory kept the old serials: A %+v, B %+v", ra, rb)
	}
	forward("after the renewal")
	// B's listener presents its new certificate.
	conn, err := tls.Dial("tcp", urlB[len("https://"):], &tls.Config{RootCAs: tlsB.pool(), Time: clk.Now,
		Certificates: []tls.Certificate{*tlsA.Client}, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatalf("a handshake with A's previous client certificate: %v", err)
	}
	if got := serialOf(conn.ConnectionState().PeerCertificates[0]); got != rb.ServerSerial {
		t.Errorf("B's listener presents %s, want its renewed certificate %s", got, rb.ServerSerial)
	}
	conn.Close()
	// A's previous client certificate is still A's until it expires.
	if r, err := b.replicaOfClient(ctx, tlsA.Client.Leaf); err != nil || r.ID != "aaaa" {
		t.Errorf("B refused A's previous client certificate before it expired: %v", err)
	}
	clk.Add(30 * time.Minute) // the first certificates expired
	beatBoth(ctx, a, b)
	if _, err := b.replicaOfClient(ctx, tlsA.Client.Leaf); err == nil {
		t.Error("B accepts A's previous client certificate after it expired")
	}
	if n := renewals.Load(); n != 2 {
		t.Errorf("%d renewals, want 2 (the renewed certificates are young)", n)
	}
	forward("an hour on")
}

// beatBoth beats the replicas by hand and waits for the renewals the
// beats started.
func beatBoth(ctx context.Context, cs ...*Cluster) {
	for _, c := range cs {
		c.beat(ctx)
		c.renewals.Wait()
	}
}

// TestRenewalDoesNotStallHeartbeats: a certificate renewal that hangs
// (a slow CA) runs beside the heartbeats, which go on renewing the
// replica's registration; further heartbeats start no second renewal
// while it runs, and Close waits for it.
func TestRenewalDoesNotStallHeartbeats(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca := newTestCA(t)
	t0 := time.Now()
	clk := &clock{now: t0}
	var renewals atomic.Int32
	unblock := make(chan struct{})
	renew := func(ctx context.Context) (*tls.Certificate, *tls.Certificate, error) {
		renewals.Add(1)
		<-unblock
		from, to := clk.Now().Add(-time.Minute), clk.Now().Add(4*time.Hour)
		return ca.leafFrom(t, x509.ExtKeyUsageServerAuth, from, to), ca.leafFrom(t, x509.ExtKeyUsageClientAuth, from, to), nil
	}
	c, err := New(Config{Store: st, ID: "aaaa", Heartbeat: time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Past half their life already: the first heartbeat renews them.
	p := &PeerTLS{Server: ca.leafFrom(t, x509.ExtKeyUsageServerAuth, t0.Add(-40*time.Minute), t0.Add(20*time.Minute)),
		Client: ca.leafFrom(t, x509.ExtKeyUsageClientAuth, t0.Add(-40*time.Minute), t0.Add(20*time.Minute)), Root: ca.root, Renew: renew}
	if err := c.Start(ctx, Membership{PeerURL: "https://127.0.0.1:1", TLS: p}); err != nil {
		t.Fatal(err)
	}
	c.stop() // beats by hand
	<-c.done
	live := func() bool {
		var list []*lanyard.Replica
		if err := st.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.LiveReplicas(clk.Now()); return }); err != nil {
			t.Fatal(err)
		}
		return len(list) == 1
	}
	for i := range 3 * ExpiryBeats {
		clk.Add(time.Second)
		done := make(chan struct{})
		go func() { c.beat(ctx); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			close(unblock)
			t.Fatalf("heartbeat %d waited for the hanging renewal", i+1)
		}
		if !live() {
			close(unblock)
			t.Fatalf("after heartbeat %d the replica counts as gone", i+1)
		}
	}
	close(unblock)
	c.Close(ctx)
	if n := renewals.Load(); n != 1 {
		t.Errorf("%d renewals started, want 1 (none beside the one running)", n)
	}
	if got := serialOf(c.certs.Load().server.Leaf); got == serialOf(p.Server.Leaf) {
		t.Error("the renewal did not finish before Close returned")
	}
}
