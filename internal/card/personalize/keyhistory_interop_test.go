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

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/interoptest"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestRetiredKeysThroughOpenSC writes two earlier keys into the retired
// slots 82 and 83 with WriteRetiredKeys and puts the card in the real
// pcscd's vpcd reader: OpenSC, which looks at the retired slots the Key
// History Object counts (card-piv.c, piv_process_history), lists both
// retired certificates and keys (PKCS #11 ids 05 and 06), reads the
// certificate written, and decrypts with the RSA key in slot 82 what
// openssl encrypted to its certificate (pkcs11-tool --decrypt, RSA-PKCS):
// old mail still opens.
func TestRetiredKeysThroughOpenSC(t *testing.T) {
	interoptest.RequireOpenSC(t, "pkcs11-tool", "opensc-tool", "openssl")
	addr, reader := interoptest.TakeSlot(t)
	ctx := context.Background()
	e, c, admin := mustAdminCard(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []RetiredKey{retiredKey(t, rsaKey, "Lanyard retired 1"), retiredKey(t, ecKey(t), "Lanyard retired 2")}
	if err := WriteRetiredKeys(ctx, c, admin, keys); err != nil {
		t.Fatal(err)
	}
	slot := intoReader(t, addr, reader, e)

	out := interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN, "-O")
	for _, want := range []string{"Retired Certificate for Key Management 1", "Retired Certificate for Key Management 2",
		"Retired KEY MAN 1", "Retired KEY MAN 2", "Lanyard retired 1", "Lanyard retired 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("pkcs11-tool -O lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Retired Certificate for Key Management 3") {
		t.Errorf("pkcs11-tool -O lists a third retired certificate:\n%s", out)
	}
	dir := t.TempDir()
	der := filepath.Join(dir, "cert.der")
	interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--read-object", "--type", "cert", "--id", "05", "-o", der)
	if got, _ := os.ReadFile(der); !bytes.Equal(got, keys[0].Certificate.Raw) {
		t.Fatal("the certificate OpenSC reads for retired key 1 is not the one written to slot 82")
	}

	// Encrypted as S/MIME encrypts a content-encryption key to an RSA
	// certificate: PKCS #1 v1.5, by openssl with the certificate's key.
	checkOpenSCDecrypts(t, slot, keys[0].Certificate.Raw, "05")
}

// TestClearedRetiredKeysGoneThroughOpenSC: after ClearRetiredKeys (what
// Revoke and clear does) OpenSC lists no retired certificate or key of
// the card, on a card that can move keys and on one that cannot (whose
// slots keep throw-away keys the key history no longer counts).
func TestClearedRetiredKeysGoneThroughOpenSC(t *testing.T) {
	interoptest.RequireOpenSC(t, "pkcs11-tool", "opensc-tool")
	for name, opts := range map[string][]emu.Option{"move key": nil, "without move key": {emu.WithoutMoveKey()}} {
		t.Run(name, func(t *testing.T) {
			addr, reader := interoptest.TakeSlot(t)
			ctx := context.Background()
			e, c, admin := mustAdminCard(t, opts...)
			keys := []RetiredKey{retiredKey(t, ecKey(t), "Lanyard retired 1"), retiredKey(t, ecKey(t), "Lanyard retired 2")}
			if err := WriteRetiredKeys(ctx, c, admin, keys); err != nil {
				t.Fatal(err)
			}
			if _, err := ClearRetiredKeys(ctx, c, admin); err != nil {
				t.Fatal(err)
			}
			slot := intoReader(t, addr, reader, e)
			out := interoptest.Run(t, "pkcs11-tool", "--module", interoptest.OpenSCModule, "--slot", slot, "--login", "--pin", pivspec.DefaultPIN, "-O")
			for _, gone := range []string{"Retired", "Lanyard retired"} {
				if strings.Contains(out, gone) {
					t.Errorf("pkcs11-tool -O still lists %q after the clear:\n%s", gone, out)
				}
			}
		})
	}
}

// mustAdminCard is mustCard authenticated with the factory management key.
func mustAdminCard(t *testing.T, opts ...emu.Option) (*emu.Card, *piv.Card, *piv.Admin) {
	t.Helper()
	e, c := mustCard(t, opts...)
	admin, err := Authenticate(context.Background(), c, factory)
	if err != nil {
		t.Fatal(err)
	}
	return e, c, admin
}

// intoReader powers the emulated card off, puts it into the real pcscd's
// vpcd reader taken for the test and returns OpenSC's PKCS #11 slot of it.
func intoReader(t *testing.T, addr, reader string, e *emu.Card) string {
	t.Helper()
	e.PowerOff()
	interoptest.Insert(t, addr, reader, e)
	return interoptest.PKCS11Slot(t, reader)
}
