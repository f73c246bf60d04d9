package builtin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
)

// A machine certificate verifies for its use and names only: a server
// certificate for its DNS and IP names under TLS server auth, a client
// certificate under client auth and not as a server.
func TestSignMachine(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	issuing, root := mustChain(t, c)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(issuing)

	srv, err := c.SignMachine(context.Background(), &ca.MachineRequest{
		PublicKey: &key.PublicKey, CommonName: "lanyard agent listener", DNSNames: []string{"lanyard.example", "localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, Usage: x509.ExtKeyUsageServerAuth, Validity: 90 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lanyard.example", "localhost", "127.0.0.1"} {
		if _, err := srv.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{DNSName: "other.example", Roots: roots, Intermediates: inter}); err == nil {
		t.Error("server certificate verified for a name it does not carry")
	}
	if d := srv.NotAfter.Sub(srv.NotBefore); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Errorf("validity %v", d)
	}

	cli, err := c.SignMachine(context.Background(), &ca.MachineRequest{
		PublicKey: &key.PublicKey, CommonName: "lanyard-workstation-7", Usage: x509.ExtKeyUsageClientAuth, Validity: 365 * 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := cli.Verify(opts); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if _, err := cli.Verify(opts); err == nil {
		t.Error("client certificate verified for server auth")
	}
	if cli.Subject.CommonName != "lanyard-workstation-7" || cli.IsCA {
		t.Errorf("subject %s, CA %v", cli.Subject, cli.IsCA)
	}
}
