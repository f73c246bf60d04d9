package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeTLSRequestsClientCertificates: `lanyard serve --tls-cert
// --tls-key` asks every client for a certificate (smart card sign-in)
// and still serves one that has none.
func TestServeTLSRequestsClientCertificates(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	writeServerCert(t, certFile, keyFile)
	addr := freeAddr(t)
	c, err := parseServe([]string{"--data", filepath.Join(dir, "data"), "--listen", addr, "--agent-listen", "", "--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "error"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LANYARD_MASTER_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	asked := make(chan bool, 1)
	cfg := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked <- true
		return &tls.Certificate{}, nil // none to offer
	}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			buf := make([]byte, 12)
			if err == nil {
				_, err = conn.Read(buf)
			}
			conn.Close()
			if err != nil || string(buf) != "HTTP/1.1 200" {
				t.Fatalf("GET /healthz over TLS without a client certificate: %q, %v", buf, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the TLS listener did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-asked:
	default:
		t.Fatal("the HTTPS listener did not ask for a client certificate")
	}

	// A client certificate reaches the card sign-in, which judges it (a
	// foreign one) rather than the connection: the listener tracks its
	// connections' age (ConnContext). A client keeping TLS sessions does
	// not resume one: every connection shakes hands afresh.
	clientCert := selfSignedClientCert(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true,
		Certificates: []tls.Certificate{clientCert}, ClientSessionCache: tls.NewLRUClientSessionCache(4)}}}
	for i := range 2 {
		res, err := client.Post("https://"+addr+"/api/v1/session/card", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 401 || !strings.Contains(string(body), "not issued by this Lanyard's CA") || res.TLS.DidResume {
			t.Fatalf("card sign-in #%d with a foreign certificate: %d %s, resumed %v", i+1, res.StatusCode, body, res.TLS.DidResume)
		}
	}
}

// selfSignedClientCert is a client certificate no Lanyard CA issued.
func selfSignedClientCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writeServerCert writes a self-signed server certificate for 127.0.0.1.
func writeServerCert(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
}
