package agent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// testCA signs certificates for public keys, as the server's CA does.
type testCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Soft Test CA"}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{key: k, cert: c}
}

func (ca *testCA) sign(t *testing.T, spki []byte, cn string) []byte {
	t.Helper()
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Minute),
		NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func newTestSoftHost(t *testing.T, home string) *softHost {
	t.Helper()
	return newSoftHost(SoftStore{
		MachineDir: filepath.Join(t.TempDir(), "machine"),
		Account: func(login string) (LocalAccount, error) {
			if login != "tia" {
				return LocalAccount{}, errors.New("no such account")
			}
			return LocalAccount{Home: home, UID: -1, GID: -1}, nil
		},
	}, slog.New(slog.DiscardHandler))
}

func runOut(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestSoftStoreUser writes a user store: the PKCS#12 file opens with the
// password (in Go and in OpenSSL) and with no other, holds the key of the
// certificate, is 0600 in a 0700 directory, and went into the user's NSS
// database, which certutil lists.
func TestSoftStoreUser(t *testing.T) {
	for _, tool := range []string{"openssl", "certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (scripts/card-deps.sh installs it): %v", tool, err)
		}
	}
	home := t.TempDir()
	nssdb := filepath.Join(home, NSSDir)
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := runOut(t, "certutil", "-N", "--empty-password", "-d", "sql:"+nssdb); err != nil {
		t.Fatalf("certutil -N: %v\n%s", err, out)
	}
	h := newTestSoftHost(t, home)
	if got := h.scopes(); len(got) != 2 {
		t.Fatalf("scopes %v, want machine and user (the test runs as root)", got)
	}
	ca := newTestCA(t)
	const password = "Correct-Horse-9"
	for _, alg := range []string{"ecp256", "rsa2048"} {
		k, err := h.keygen(alg)
		if err != nil {
			t.Fatal(err)
		}
		leaf := ca.sign(t, k.PublicKey, "Tia "+alg)
		st, err := h.store(&agentproto.Store{Handle: k.Handle, Chain: [][]byte{leaf, ca.cert.Raw}, Password: password,
			Scope: agentproto.StoreUser, Account: "tia", Name: "Work"})
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		want := filepath.Join(home, UserStoreDir, "Work.p12")
		if alg == "rsa2048" {
			want = filepath.Join(home, UserStoreDir, "Work-2.p12") // the first is not overwritten
		}
		if st.Path != want || !st.NSS || st.NSSNote != "" {
			t.Fatalf("%s: stored %+v, want %s imported into NSS", alg, st, want)
		}
		fi, err := os.Stat(st.Path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("the store file: %v, %v", fi, err)
		}
		if di, err := os.Stat(filepath.Dir(st.Path)); err != nil || di.Mode().Perm() != 0o700 {
			t.Fatalf("the store directory: %v, %v", di, err)
		}
		pfx, _ := os.ReadFile(st.Path)
		key, cert, chain, err := pkcs12.DecodeChain(pfx, password)
		if err != nil || !cert.Equal(mustParse(t, leaf)) || len(chain) != 1 || !chain[0].Equal(ca.cert) {
			t.Fatalf("decoding the store: %v", err)
		}
		if !publicKeyEqual(cert.PublicKey, key.(crypto.Signer).Public()) {
			t.Fatal("the store's key is not the certificate's")
		}
		if _, _, _, err := pkcs12.DecodeChain(pfx, "Correct-Horse-8"); err == nil {
			t.Fatal("the store opened with a wrong password")
		}
		if out, err := runOut(t, "openssl", "pkcs12", "-in", st.Path, "-nokeys", "-passin", "pass:"+password); err != nil || !strings.Contains(out, "CN = Tia "+alg) {
			t.Fatalf("openssl with the password: %v\n%s", err, out)
		}
		if out, err := runOut(t, "openssl", "pkcs12", "-in", st.Path, "-nokeys", "-passin", "pass:wrong"); err == nil {
			t.Fatalf("openssl opened the store with a wrong password:\n%s", out)
		}
	}
	out, err := runOut(t, "certutil", "-L", "-d", "sql:"+nssdb)
	if err != nil || !strings.Contains(out, "Tia ecp256") || !strings.Contains(out, "Tia rsa2048") {
		t.Fatalf("certutil -L: %v\n%s", err, out)
	}
	if out, err := runOut(t, "certutil", "-K", "-d", "sql:"+nssdb); err != nil || strings.Count(out, "Tia ") != 2 {
		t.Fatalf("certutil -K (the keys): %v\n%s", err, out)
	}
}

func mustParse(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSoftStoreRefusals: a key is stored once; an expired key, a chain
// for another key, an unknown account and a home whose store directory
// is a symbolic link out of it write nothing.
func TestSoftStoreRefusals(t *testing.T) {
	home := t.TempDir()
	h := newTestSoftHost(t, home)
	ca := newTestCA(t)
	store := func(k *agentproto.Key, leaf []byte, scope, account string) (*agentproto.Stored, error) {
		return h.store(&agentproto.Store{Handle: k.Handle, Chain: [][]byte{leaf}, Password: "pw", Scope: scope, Account: account, Name: "x"})
	}
	k, _ := h.keygen("ecp256")
	other, _ := h.keygen("ecp256")
	if _, err := store(k, ca.sign(t, other.PublicKey, "other"), agentproto.StoreMachine, ""); err == nil || !strings.Contains(err.Error(), "not for the key pair") {
		t.Fatalf("a certificate for another key: %v", err)
	}
	if _, err := store(k, ca.sign(t, k.PublicKey, "k"), agentproto.StoreMachine, ""); !errors.Is(err, ErrNoKey) {
		t.Fatalf("the key is forgotten after a failed store: %v", err)
	}
	st, err := store(other, ca.sign(t, other.PublicKey, "m"), agentproto.StoreMachine, "")
	if err != nil || filepath.Dir(st.Path) != h.cfg.MachineDir || st.NSS {
		t.Fatalf("machine store: %+v, %v", st, err)
	}
	if _, err := store(other, ca.sign(t, other.PublicKey, "m"), agentproto.StoreMachine, ""); !errors.Is(err, ErrNoKey) {
		t.Fatalf("a key stored twice: %v", err)
	}

	h.cfg.KeyTTL = 10 * time.Millisecond
	k, _ = h.keygen("ecp256")
	time.Sleep(50 * time.Millisecond)
	if _, err := store(k, ca.sign(t, k.PublicKey, "late"), agentproto.StoreUser, "tia"); !errors.Is(err, ErrNoKey) {
		t.Fatalf("an expired key: %v", err)
	}
	h.cfg.KeyTTL = time.Minute

	k, _ = h.keygen("ecp256")
	if _, err := store(k, ca.sign(t, k.PublicKey, "nobody"), agentproto.StoreUser, "mallory"); err == nil {
		t.Fatal("stored for an account that does not exist")
	}

	// The user points the store at a directory outside the home.
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "lanyard"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(home, UserStoreDir)); err != nil {
		t.Fatal(err)
	}
	k, _ = h.keygen("ecp256")
	if _, err := store(k, ca.sign(t, k.PublicKey, "escape"), agentproto.StoreUser, "tia"); err == nil {
		t.Fatal("wrote through a symbolic link out of the home")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files outside the home: %v", ents)
	}
}
