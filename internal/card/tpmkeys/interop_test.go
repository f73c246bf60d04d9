package tpmkeys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
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

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// openscModule is OpenSC's PKCS#11 module on Debian.
const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestInteropRealStack puts the TPM virtual smart card (keys in the
// simulator) into pcscd's vpcd reader (LANYARD_TEST_VPCD) and has OpenSC's
// pkcs11-tool log in with the PIN and sign with RSA PKCS#1 v1.5 and PSS;
// crypto/rsa and openssl verify the signatures. A wrong PIN is
// CKR_PIN_INCORRECT.
func TestInteropRealStack(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	for _, tool := range []string{"pkcs11-tool", "opensc-tool", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (run scripts/card-deps.sh): %v", tool, err)
		}
	}
	if _, err := os.Stat(openscModule); err != nil {
		t.Fatalf("OpenSC PKCS#11 module: %v", err)
	}
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	reader, ok := vpcdtest.Reader(readerNames(t), port)
	if !ok {
		t.Fatalf("pcscd has no Lanyard vpcd reader for port %d; run scripts/pcscd-test.sh", port)
	}

	// Personalise in process: a key generated in the TPM in 9A and a
	// certificate for it (pkcs11-tool lists keys of slots with one).
	ctx := context.Background()
	tp, _ := simulator(t)
	tc := newTPMCard(t, tp, nil)
	pub := tc.generate(piv.SlotAuthentication, lanyard.RSA2048)
	der := selfIssued(t, pub, "Lanyard TPM interop 9A")
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.admin().PutCertificate(ctx, piv.SlotAuthentication, cert); err != nil {
		t.Fatal(err)
	}
	tc.card.PowerOff()

	vctx, cancel := context.WithCancel(ctx)
	s, err := vpcd.Start(vctx, addr, tc.card)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-s.Done() })
	wctx, wcancel := context.WithTimeout(vctx, 10*time.Second)
	defer wcancel()
	if err := s.WaitConnected(wctx); err != nil {
		t.Fatalf("card not attached to %s: %v", addr, err)
	}
	waitPresent(t, reader)
	slot := pkcs11Slot(t, reader)

	dir := t.TempDir()
	msg := []byte("signed in the TPM through pcscd, vpcd and OpenSC")
	in := filepath.Join(dir, "msg")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	certFile := filepath.Join(dir, "cert.der")
	run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "--read-object", "--type", "cert", "--id", "01", "-o", certFile)
	if got, _ := os.ReadFile(certFile); !bytes.Equal(got, der) {
		t.Fatal("the certificate pkcs11-tool reads differs from the one written")
	}
	pubFile := filepath.Join(dir, "pub.pem")
	run(t, "openssl", "x509", "-inform", "DER", "-in", certFile, "-noout", "-pubkey", "-out", pubFile)

	t.Run("pkcs11-tool signs with RSA PKCS#1 v1.5", func(t *testing.T) {
		out := filepath.Join(dir, "sig")
		run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", emu.DefaultPIN,
			"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if got := run(t, "openssl", "dgst", "-sha256", "-verify", pubFile, "-signature", out, in); !strings.Contains(got, "Verified OK") {
			t.Fatalf("openssl: %s", got)
		}
	})
	t.Run("pkcs11-tool signs with RSA-PSS", func(t *testing.T) {
		out := filepath.Join(dir, "pss")
		run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", emu.DefaultPIN,
			"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS-PSS", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
			t.Fatalf("PSS signature: %v", err)
		}
		got := run(t, "openssl", "dgst", "-sha256", "-verify", pubFile, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto", "-signature", out, in)
		if !strings.Contains(got, "Verified OK") {
			t.Fatalf("openssl: %s", got)
		}
	})
	t.Run("pkcs11-tool with a wrong PIN", func(t *testing.T) {
		before, err := tp.Info()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", "999999",
			"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", in, "-o", filepath.Join(dir, "x")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "CKR_PIN_INCORRECT") {
			t.Fatalf("signing with a wrong PIN: %v\n%s", err, out)
		}
		after, err := tp.Info()
		if err != nil {
			t.Fatal(err)
		}
		if after.LockoutCounter != before.LockoutCounter+1 {
			t.Fatalf("TPM lockout counter %d, then %d", before.LockoutCounter, after.LockoutCounter)
		}
	})
}

// selfIssued returns a certificate for pub issued by a throwaway CA.
func selfIssued(t *testing.T, pub crypto.PublicKey, cn string) []byte {
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

// readerNames lists pcscd's readers as opensc-tool prints them.
func readerNames(t *testing.T) []string {
	t.Helper()
	var names []string
	row := regexp.MustCompile(`^\d+\s+(Yes|No)\s+(.*\S)\s*$`)
	for _, line := range strings.Split(run(t, "opensc-tool", "--list-readers"), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			names = append(names, m[2])
		}
	}
	return names
}

// waitPresent waits until pcscd reports a card in reader.
func waitPresent(t *testing.T, reader string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := run(t, "opensc-tool", "--list-readers")
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

// pkcs11Slot returns the PKCS#11 slot id of reader from pkcs11-tool -L.
func pkcs11Slot(t *testing.T, reader string) string {
	t.Helper()
	out := run(t, "pkcs11-tool", "--module", openscModule, "-L")
	m := regexp.MustCompile(`Slot \d+ \((0x[0-9a-f]+)\): ` + regexp.QuoteMeta(reader)).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pkcs11-tool -L has no slot for %q:\n%s", reader, out)
	}
	return m[1]
}

// run runs a tool and returns its combined output.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(bytes.TrimSpace(out))
}
