package cluster

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

// testCA is a root and leaves it signs for 127.0.0.1, as the machine CA
// signs replicas' certificates.
type testCA struct {
	root *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	return &testCA{root: root, key: key}
}

func (ca *testCA) leaf(t *testing.T, usage x509.ExtKeyUsage, notAfter time.Time) *tls.Certificate {
	return ca.leafFrom(t, usage, time.Now().Add(-time.Minute), notAfter)
}

func (ca *testCA) leafFrom(t *testing.T, usage x509.ExtKeyUsage, notBefore, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: n, NotBefore: notBefore, NotAfter: notAfter,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.root, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}
}

func (ca *testCA) peerTLS(t *testing.T) *PeerTLS {
	exp := time.Now().Add(time.Hour)
	return &PeerTLS{Server: ca.leaf(t, x509.ExtKeyUsageServerAuth, exp), Client: ca.leaf(t, x509.ExtKeyUsageClientAuth, exp), Root: ca.root}
}

// TestForwardToStalledReplica: replica B's peer listener completes the
// TLS handshake and then never answers. A forwarded request fails
// within Forward's bound as unavailable (internal/web: 503 with
// Retry-After) instead of hanging.
func TestForwardToStalledReplica(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca := newTestCA(t)
	tlsB := ca.peerTLS(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*tlsB.Server}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				conn.(*tls.Conn).Handshake()
				<-stop // never reads a request, never answers
				conn.Close()
			}()
		}
	}()
	clk := &clock{now: time.Now()}
	start := func(id, peerURL string, p *PeerTLS) *Cluster {
		c, err := New(Config{Store: st, ID: id, Heartbeat: time.Second, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, Membership{PeerURL: peerURL, TLS: p}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(ctx) })
		return c
	}
	a := start("aaaa", "https://127.0.0.1:1", ca.peerTLS(t))
	start("bbbb", "https://"+ln.Addr().String(), tlsB)
	a.forwardTimeout = time.Second

	req, _ := http.NewRequest(http.MethodPost, "/api/v1/issue", nil)
	type result struct {
		resp *http.Response
		err  error
	}
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		resp, err := a.Forward(ctx, "bbbb", req)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		if r.err == nil {
			r.resp.Body.Close()
			t.Fatalf("a stalled replica answered %s", r.resp.Status)
		}
		if !lanyard.IsCode(r.err, lanyard.EUnavailable) {
			t.Errorf("Forward to a stalled replica: %v, want unavailable", r.err)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("Forward gave up after %v, want about its 1 s bound", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Forward to a stalled replica still waits after 15 s")
	}
}
