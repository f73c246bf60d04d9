// Package interoptest holds the steps that interop tests share: a virtual
// card in the real pcscd's vpcd slot (LANYARD_TEST_VPCD), used there by
// independent clients, OpenSC's tools and openssl. The emulator's and the
// TPM card's interop tests run the same steps on different cards.
//
// It is apart from vpcdtest because it inserts cards with package vpcd,
// whose own tests import vpcdtest. It fails the test it is given instead
// of returning errors, so import it from _test.go files only.
package interoptest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// OpenSCModule is OpenSC's PKCS#11 module on Debian.
const OpenSCModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// RequireOpenSC fails the test unless the client tools and OpenSC's
// PKCS#11 module are installed: they are part of the normal test run
// (scripts/card-deps.sh), so a missing one is an error, not a reason to
// skip.
func RequireOpenSC(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (run scripts/card-deps.sh): %v", tool, err)
		}
	}
	if _, err := os.Stat(OpenSCModule); err != nil {
		t.Fatalf("OpenSC PKCS#11 module: %v", err)
	}
}

// TakeSlot gives the test sole use of the real vpcd slot
// (vpcdtest.Addr, vpcdtest.Lock) and returns its address and the name of
// the pcscd reader that shows its card.
func TakeSlot(t testing.TB) (addr, reader string) {
	t.Helper()
	addr = vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	reader, ok := vpcdtest.Reader(readerNames(t), port)
	if !ok {
		t.Fatalf("pcscd has no Lanyard vpcd reader for port %d; run scripts/pcscd-test.sh", port)
	}
	return addr, reader
}

// Insert attaches card to the vpcd slot at addr until the test ends, and
// waits until pcscd shows it in reader, so that clients find it.
func Insert(t testing.TB, addr, reader string, card vpcd.Card) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := vpcd.Start(ctx, addr, card)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-s.Done() })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := s.WaitConnected(wctx); err != nil {
		t.Fatalf("card not attached to %s: %v", addr, err)
	}
	waitPresent(t, reader)
}

// readerNames lists pcscd's readers as opensc-tool prints them.
func readerNames(t testing.TB) []string {
	t.Helper()
	var names []string
	row := regexp.MustCompile(`^\d+\s+(Yes|No)\s+(.*\S)\s*$`)
	for _, line := range strings.Split(Run(t, "opensc-tool", "--list-readers"), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			names = append(names, m[2])
		}
	}
	return names
}

// waitPresent waits until pcscd reports a card in reader.
func waitPresent(t testing.TB, reader string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := Run(t, "opensc-tool", "--list-readers")
		for _, line := range strings.Split(out, "\n") {
			if strings.HasSuffix(strings.TrimSpace(line), reader) && strings.Contains(line, "Yes") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pcscd does not show a card in %q:\n%s", reader, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PKCS11Slot returns the PKCS#11 slot id of reader from pkcs11-tool -L.
func PKCS11Slot(t testing.TB, reader string) string {
	t.Helper()
	out := Run(t, "pkcs11-tool", "--module", OpenSCModule, "-L")
	m := regexp.MustCompile(`Slot \d+ \((0x[0-9a-f]+)\): ` + regexp.QuoteMeta(reader)).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pkcs11-tool -L has no slot for %q:\n%s", reader, out)
	}
	return m[1]
}

// CertPublicKey reads the certificate with PKCS#11 id from the token in
// slot with pkcs11-tool, checks it is want, and has openssl export its
// public key to a PEM file, whose path it returns.
func CertPublicKey(t testing.TB, slot, id string, want []byte) string {
	t.Helper()
	dir := t.TempDir()
	der := filepath.Join(dir, "cert.der")
	Run(t, "pkcs11-tool", "--module", OpenSCModule, "--slot", slot, "--read-object", "--type", "cert", "--id", id, "-o", der)
	got, err := os.ReadFile(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("certificate %s read with pkcs11-tool differs from the one written", id)
	}
	pub := filepath.Join(dir, "pub.pem")
	Run(t, "openssl", "x509", "-inform", "DER", "-in", der, "-noout", "-pubkey", "-out", pub)
	return pub
}

// OpensslVerify has openssl verify sigFile, a SHA-256 signature of
// msgFile, with the PEM public key pubFile; sigopts are openssl's options
// for the signature scheme (-sigopt rsa_padding_mode:pss …), none for
// DER ECDSA and PKCS#1 v1.5 RSA.
func OpensslVerify(t testing.TB, pubFile, msgFile, sigFile string, sigopts ...string) {
	t.Helper()
	args := append([]string{"dgst", "-sha256", "-verify", pubFile}, sigopts...)
	out := Run(t, "openssl", append(args, "-signature", sigFile, msgFile)...)
	if !strings.Contains(out, "Verified OK") {
		t.Fatalf("openssl dgst -verify: %s", out)
	}
}

// SelfIssued returns a certificate for pub issued by a throwaway CA.
func SelfIssued(t testing.TB, pub crypto.PublicKey, cn string) []byte {
	t.Helper()
	ca, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// Run runs a client tool and returns its combined output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(bytes.TrimSpace(out))
}
