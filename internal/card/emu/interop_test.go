package emu_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
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

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// openscModule is OpenSC's PKCS#11 module on Debian.
const openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"

// TestInteropRealStack attaches an emulated card to the real pcscd that
// scripts/pcscd-test.sh started (LANYARD_TEST_VPCD) and has independent
// clients use it: OpenSC's PKCS#11 module lists it, its certificates and
// keys, and signs with ECDSA P-256 (9A) and RSA 2048 (9C, PIN always) after
// a PIN login, signatures that crypto/ecdsa and crypto/rsa verify;
// yubico-piv-tool reads its status and verifies, changes and unblocks the
// PIN.
func TestInteropRealStack(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	for _, tool := range []string{"pkcs11-tool", "yubico-piv-tool", "opensc-tool"} {
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

	// Personalise in process, before the card goes into the reader: keys
	// generated on the card, certificates for them (pkcs11-tool lists keys
	// only for slots with a certificate).
	c := newCard(t, emu.WithKeyStore(pooledKeys{}))
	c.authDefault()
	ecPub := c.generate(0x9A, emu.AlgECCP256).(*ecdsa.PublicKey)
	rsaPub := c.generate(0x9C, emu.AlgRSA2048).(*rsa.PublicKey)
	for slot, pub := range map[string]crypto.PublicKey{"5FC105": ecPub, "5FC10A": rsaPub} {
		der := selfIssued(t, pub, "Lanyard interop "+slot)
		if sw := c.putData(mustHex(t, slot), append(tlv(0x70, der), mustHex(t, "710100FE00")...)); sw != apdu.SWOK {
			t.Fatalf("PUT DATA %s: %v", slot, sw)
		}
	}
	c.card.PowerOff()

	ctx, cancel := context.WithCancel(context.Background())
	s, err := vpcd.Start(ctx, addr, c.card)
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

	t.Run("pkcs11-tool lists the token", func(t *testing.T) {
		out := run(t, "pkcs11-tool", "--module", openscModule, "-L")
		if !strings.Contains(out, reader) || !strings.Contains(out, "token manufacturer : piv_II") {
			t.Fatalf("pkcs11-tool -L shows no PIV token in %q:\n%s", reader, out)
		}
	})
	slot := pkcs11Slot(t, reader)
	t.Run("pkcs11-tool lists certificates and keys", func(t *testing.T) {
		out := run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "-O")
		for _, want := range []string{"Certificate for PIV Authentication", "Certificate for Digital Signature", "PIV AUTH pubkey", "SIGN pubkey", "Lanyard interop 5FC105"} {
			if !strings.Contains(out, want) {
				t.Errorf("pkcs11-tool -O lacks %q:\n%s", want, out)
			}
		}
	})

	msg := []byte("signed through pcscd, vpcd and OpenSC")
	digest := sha256Sum(msg)
	dir := t.TempDir()
	in := filepath.Join(dir, "msg")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("pkcs11-tool signs with ECDSA P-256", func(t *testing.T) {
		out := filepath.Join(dir, "ec.sig")
		run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", emu.DefaultPIN,
			"--sign", "--id", "01", "-m", "ECDSA-SHA256", "--signature-format", "openssl", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if !ecdsa.VerifyASN1(ecPub, digest, sig) {
			t.Fatalf("ECDSA signature %X does not verify", sig)
		}
	})
	t.Run("pkcs11-tool signs with RSA 2048", func(t *testing.T) {
		out := filepath.Join(dir, "rsa.sig")
		run(t, "pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", emu.DefaultPIN,
			"--sign", "--id", "02", "-m", "SHA256-RSA-PKCS", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if err := rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, digest, sig); err != nil {
			t.Fatalf("RSA signature: %v", err)
		}
	})
	t.Run("pkcs11-tool with a wrong PIN", func(t *testing.T) {
		out, err := exec.Command("pkcs11-tool", "--module", openscModule, "--slot", slot, "--login", "--pin", "999999",
			"--sign", "--id", "01", "-m", "ECDSA-SHA256", "-i", in, "-o", filepath.Join(dir, "x")).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "CKR_PIN_INCORRECT") {
			t.Fatalf("signing with a wrong PIN: %v\n%s", err, out)
		}
	})

	piv := func(t *testing.T, args ...string) string {
		return run(t, "yubico-piv-tool", append([]string{"-r", reader}, args...)...)
	}
	t.Run("yubico-piv-tool status", func(t *testing.T) {
		out := piv(t, "-a", "status")
		for _, want := range []string{"Version:\t5.4.3", fmt.Sprintf("Serial Number:\t%d", c.card.Serial()),
			"Slot 9a:", "Algorithm:\tECCP256", "Slot 9c:", "Algorithm:\tRSA2048", "PIN tries left:\t2"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("yubico-piv-tool PIN handling", func(t *testing.T) {
		piv(t, "-a", "verify-pin", "-P", emu.DefaultPIN)
		piv(t, "-a", "change-pin", "-P", emu.DefaultPIN, "-N", "24682468")
		out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", emu.DefaultPIN).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "2 tries left") {
			t.Fatalf("verify-pin with the old PIN: %v\n%s", err, out)
		}
		piv(t, "-a", "unblock-pin", "-P", emu.DefaultPUK, "-N", "13571357")
		piv(t, "-a", "verify-pin", "-P", "13571357")
	})
	t.Run("the card saw it all", func(t *testing.T) {
		// The same card, in process: the PIN yubico-piv-tool set.
		c.card.PowerOff()
		c.selectPIV()
		c.verifyPIN("13571357")
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

// run runs a client tool and returns its combined output.
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
