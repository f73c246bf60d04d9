//go:build integration

package tpmkeys_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/interoptest"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestInteropRealStack puts the TPM virtual smart card (keys in the
// simulator) into pcscd's vpcd reader (LANYARD_TEST_VPCD) and has OpenSC's
// pkcs11-tool log in with the PIN and sign with RSA PKCS#1 v1.5 and PSS;
// crypto/rsa and openssl verify the signatures. A wrong PIN is
// CKR_PIN_INCORRECT.
func TestInteropRealStack(t *testing.T) {
	interoptest.RequireOpenSC(t, "pkcs11-tool", "opensc-tool", "openssl")
	addr, reader := interoptest.TakeSlot(t)

	// Personalise in process: a key generated in the TPM in 9A and a
	// certificate for it (pkcs11-tool lists keys of slots with one).
	ctx := context.Background()
	tp, _ := simulator(t)
	tc := newTPMCard(t, tp, nil)
	pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
	der := interoptest.SelfIssued(t, pub, "Lanyard TPM interop 9A")
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.admin().PutCertificate(ctx, pivspec.SlotAuthentication, cert); err != nil {
		t.Fatal(err)
	}
	tc.card.PowerOff()
	interoptest.Insert(t, addr, reader, tc.card)
	slot := interoptest.PKCS11Slot(t, reader)

	dir := t.TempDir()
	msg := []byte("signed in the TPM through pcscd, vpcd and OpenSC")
	in := filepath.Join(dir, "msg")
	if err := os.WriteFile(in, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	pubFile := interoptest.CertPublicKey(t, slot, "01", der)

	t.Run("pkcs11-tool signs with RSA PKCS#1 v1.5", func(t *testing.T) {
		out := filepath.Join(dir, "sig")
		interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN,
			"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("signature: %v", err)
		}
		interoptest.OpensslVerify(t, pubFile, in, out)
	})
	t.Run("pkcs11-tool signs with RSA-PSS", func(t *testing.T) {
		out := filepath.Join(dir, "pss")
		interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN,
			"--sign", "--id", "01", "-m", "SHA256-RSA-PKCS-PSS", "-i", in, "-o", out)
		sig, _ := os.ReadFile(out)
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
			t.Fatalf("PSS signature: %v", err)
		}
		interoptest.OpensslVerify(t, pubFile, in, out, "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto")
	})
	t.Run("pkcs11-tool with a wrong PIN", func(t *testing.T) {
		before, err := tp.Info()
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", "999999",
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
