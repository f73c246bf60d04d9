package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// agentProxyServer serves the agent hub's endpoints over TLS on a
// listener made by agentProxyListener with cidrs, as serveAgents does,
// and records the remote address of every request.
type agentProxyServer struct {
	addr  string
	roots *x509.CertPool

	mu      sync.Mutex
	remotes []string
}

func startAgentProxyServer(t *testing.T, cidrs string) *agentProxyServer {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := agentProxyListener(tcp, cidrs)
	if err != nil {
		t.Fatal(err)
	}
	cert, roots := selfSigned(t)
	s := &agentProxyServer{addr: tcp.Addr().String(), roots: roots}
	hub := agenthub.New(agenthub.Config{}).Handler()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.remotes = append(s.remotes, r.RemoteAddr)
		s.mu.Unlock()
		hub.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *agentProxyServer) lastRemote() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.remotes) == 0 {
		return ""
	}
	return s.remotes[len(s.remotes)-1]
}

// pair sends a (malformed) pairing request from local, which opens its
// connection with header (nil: none), and returns the status, or an
// error when the connection was refused.
func (s *agentProxyServer) pair(t *testing.T, local string, header []byte) (int, error) {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil || header == nil {
				return c, err
			}
			if _, err := c.Write(header); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
		TLSClientConfig:   &tls.Config{RootCAs: s.roots, ServerName: "localhost"},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Post("https://"+s.addr+agentproto.PathPair, "application/json", strings.NewReader(`{"not":"a pairing request"}`))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// proxyV1 is a PROXY protocol version 1 header (the specification,
// section 2.1) for a TCP connection from src to dst.
func proxyV1(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	fam := "TCP4"
	if s.Addr().Is6() {
		fam = "TCP6"
	}
	return []byte("PROXY " + fam + " " + s.Addr().String() + " " + d.Addr().String() + " " +
		strconv.Itoa(int(s.Port())) + " " + strconv.Itoa(int(d.Port())) + "\r\n")
}

// proxyV2 is a PROXY protocol version 2 header (section 2.2): the
// signature, version 2 with the PROXY command, TCP over IPv4, and the
// addresses and ports.
func proxyV2(src, dst string) []byte {
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, 0x21, 0x11)
	b = binary.BigEndian.AppendUint16(b, 12)
	sa, da := s.Addr().As4(), d.Addr().As4()
	b = append(b, sa[:]...)
	b = append(b, da[:]...)
	b = binary.BigEndian.AppendUint16(b, s.Port())
	return binary.BigEndian.AppendUint16(b, d.Port())
}

// TestAgentProxyProtocol: from a trusted load balancer's address the
// PROXY header (v1 or v2) is required and its client address becomes the
// request's remote address, which the pairing throttle counts under;
// from any other address a header is refused, and a connection without
// one is served under its own address.
func TestAgentProxyProtocol(t *testing.T) {
	s := startAgentProxyServer(t, "127.0.0.1/32, 192.0.2.0/24")
	const client = "203.0.113.7"
	for i := range agenthub.PairLimits.MaxFailures {
		header := proxyV1(client+":40000", s.addr)
		if i%2 == 1 {
			header = proxyV2(client+":40001", s.addr)
		}
		code, err := s.pair(t, "127.0.0.1", header)
		if err != nil || code != http.StatusBadRequest {
			t.Fatalf("request %d through the load balancer: %d, %v; want 400", i+1, code, err)
		}
		if got := s.lastRemote(); !strings.HasPrefix(got, client+":") {
			t.Fatalf("request %d: remote address %q, want the header's %s", i+1, got, client)
		}
	}
	// The client's address is throttled, not the load balancer's.
	if code, err := s.pair(t, "127.0.0.1", proxyV2(client+":40002", s.addr)); err != nil || code != http.StatusTooManyRequests {
		t.Fatalf("request beyond the limit from %s: %d, %v; want 429", client, code, err)
	}
	if code, err := s.pair(t, "127.0.0.1", proxyV1("203.0.113.8:40000", s.addr)); err != nil || code != http.StatusBadRequest {
		t.Fatalf("another client through the same load balancer: %d, %v; want 400", code, err)
	}

	// A trusted source must send the header: without one it is refused.
	if code, err := s.pair(t, "127.0.0.1", nil); err == nil {
		t.Fatalf("no header from the load balancer: status %d, want the connection refused", code)
	}
	// Anyone else may not: a header from them is refused, never believed.
	if code, err := s.pair(t, "127.0.0.2", proxyV1("198.51.100.1:40000", s.addr)); err == nil {
		t.Fatalf("a header from an untrusted address: status %d, want the connection refused", code)
	}
	// Without one they are served under their own address.
	if code, err := s.pair(t, "127.0.0.2", nil); err != nil || code != http.StatusBadRequest {
		t.Fatalf("direct connection: %d, %v; want 400", code, err)
	}
	if got := s.lastRemote(); !strings.HasPrefix(got, "127.0.0.2:") {
		t.Fatalf("direct connection's remote address %q", got)
	}
}

// TestAgentProxyProtocolFlag: an empty list leaves the listener alone, a
// malformed one is refused at start.
func TestAgentProxyProtocolFlag(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if ln, err := agentProxyListener(tcp, " , "); err != nil || ln != tcp {
		t.Fatalf("empty list: %v, %v", ln, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "not-an-address", "10.0.0.1,fe80::/129"} {
		if _, err := agentProxyListener(tcp, bad); err == nil || !strings.Contains(err.Error(), "--agent-proxy-protocol") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	c, err := parseServe([]string{"--agent-proxy-protocol", "10.0.0.5,10.1.0.0/16"})
	if err != nil || c.agentProxyProtocol != "10.0.0.5,10.1.0.0/16" {
		t.Fatalf("parseServe: %+v, %v", c.agentProxyProtocol, err)
	}
}

// selfSigned returns a certificate for localhost and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
