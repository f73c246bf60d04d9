//go:build integration

package directory_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// directoryServer is a real directory a test writes its own subtree into:
// the OpenLDAP of scripts/slapd-test.sh (LANYARD_TEST_SLAPD) or the Samba
// AD DC of scripts/samba-test.sh (LANYARD_TEST_SAMBA); make test sets
// both.
type directoryServer struct {
	t     *testing.T
	spec  map[string]string
	ca    []byte
	admin *ldap.Conn
	tag   string // this test's random name part
	added []string
}

func openDirectory(t *testing.T, env, script string) *directoryServer {
	v := os.Getenv(env)
	if v == "" {
		t.Fatalf("%s is not set: run scripts/%s (make test sets it)", env, script)
	}
	s := &directoryServer{t: t, spec: map[string]string{}}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		s.spec[k] = val
	}
	var err error
	if s.ca, err = os.ReadFile(s.spec["ca"]); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s.spec["url"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ca)
	if s.admin, err = ldap.DialURL(s.spec["url"], ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: u.Hostname()})); err != nil {
		t.Fatal(err)
	}
	if err := s.admin.Bind(s.spec["bind"], s.spec["password"]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	s.tag = hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, dn := range slices.Backward(s.added) {
			s.admin.Del(ldap.NewDelRequest(dn, nil))
		}
		s.admin.Close()
	})
	return s
}

func (s *directoryServer) add(dn string, attrs map[string][]string) string {
	s.t.Helper()
	req := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		req.Attribute(k, v)
	}
	if err := s.admin.Add(req); err != nil {
		s.t.Fatalf("add %s: %v", dn, err)
	}
	s.added = append(s.added, dn)
	return dn
}

func (s *directoryServer) replace(dn, attr string, values ...string) {
	s.t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	if err := s.admin.Modify(req); err != nil {
		s.t.Fatalf("modify %s: %v", dn, err)
	}
}

func (s *directoryServer) del(dn string) {
	s.t.Helper()
	if err := s.admin.Del(ldap.NewDelRequest(dn, nil)); err != nil {
		s.t.Fatalf("delete %s: %v", dn, err)
	}
	s.added = slices.DeleteFunc(s.added, func(d string) bool { return d == dn })
}

// otherCA is the PEM of a CA that signed nothing any server holds.
func otherCA(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the directory's CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
