//go:build integration

package personalize

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/interoptest"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestRetireKeyThroughOpenSC retires the RSA key of slot 9D, which only
// the card holds, into slot 82 with RetireKey, and puts the card in the
// real pcscd's vpcd reader: OpenSC lists the retired certificate and key
// (PKCS #11 id 05) and decrypts with it what openssl encrypted to the old
// certificate.
func TestRetireKeyThroughOpenSC(t *testing.T) {
	interoptest.RequireOpenSC(t, "pkcs11-tool", "opensc-tool", "openssl")
	addr, reader := interoptest.TakeSlot(t)
	ctx := context.Background()
	e, c, admin := mustAdminCard(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	old := retiredKey(t, key, "Lanyard kept on the card")
	if err := ImportKey(ctx, admin, pivspec.SlotKeyManagement, key); err != nil {
		t.Fatal(err)
	}
	if err := RetireKey(ctx, c, admin, pivspec.SlotKeyManagement, pivspec.SlotRetiredFirst, old.Certificate); err != nil {
		t.Fatal(err)
	}
	slot := intoReader(t, addr, reader, e)
	out := interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN, "-O")
	for _, want := range []string{"Retired Certificate for Key Management 1", "Retired KEY MAN 1", "Lanyard kept on the card"} {
		if !strings.Contains(out, want) {
			t.Errorf("pkcs11-tool -O lacks %q:\n%s", want, out)
		}
	}
	checkOpenSCDecrypts(t, slot, old.Certificate.Raw, "05")
}

// checkOpenSCDecrypts encrypts a message to the RSA certificate der as
// S/MIME encrypts a content-encryption key (PKCS #1 v1.5, by openssl) and
// checks that OpenSC decrypts it with the card's key of PKCS #11 id on
// PKCS #11 slot.
func checkOpenSCDecrypts(t *testing.T, slot string, der []byte, id string) {
	t.Helper()
	dir := t.TempDir()
	msg := []byte("a content-encryption key of old mail")
	pub, ct, pt, certFile := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "ct"), filepath.Join(dir, "pt"), filepath.Join(dir, "cert.der")
	if err := os.WriteFile(certFile, der, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "msg"), msg, 0o600); err != nil {
		t.Fatal(err)
	}
	interoptest.Run(t, "openssl", "x509", "-inform", "DER", "-in", certFile, "-noout", "-pubkey", "-out", pub)
	interoptest.Run(t, "openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pub, "-pkeyopt", "rsa_padding_mode:pkcs1", "-in", filepath.Join(dir, "msg"), "-out", ct)
	interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN,
		"--decrypt", "--id", id, "-m", "RSA-PKCS", "-i", ct, "-o", pt)
	if got, _ := os.ReadFile(pt); !bytes.Equal(got, msg) {
		t.Fatalf("pkcs11-tool decrypted %q with the key of id %s, want %q", got, id, msg)
	}
}
