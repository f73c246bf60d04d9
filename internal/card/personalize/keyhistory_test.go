package personalize

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
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// retiredKey makes a key and a certificate for it, as an earlier archived
// key management key would have.
func retiredKey(t testing.TB, key crypto.Signer, cn string) RetiredKey {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return RetiredKey{Key: key, Certificate: cert}
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestWriteRetiredKeys puts three earlier keys (RSA 2048 and two ECC
// P-256) into the retired slots: the Key History Object counts them, the
// certificates are in 82, 83 and 84, and each slot's key is the one
// written (an RSA signature verifies with its certificate; an ECDH
// agreement with the card gives what the key gives). Writing again with
// one key counts one and deletes the certificates of 83 and 84; writing
// the same keys again (a resumed step) changes nothing.
func TestWriteRetiredKeys(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	if h, err := ReadKeyHistory(ctx, c); err != nil || h != (KeyHistory{}) {
		t.Fatalf("a new card's key history: %+v, %v; want none", h, err)
	}
	admin, err := Authenticate(ctx, c, factory)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keys := []RetiredKey{retiredKey(t, rsaKey, "newest"), retiredKey(t, ecKey(t), "middle"), retiredKey(t, ecKey(t), "oldest")}
	for range 2 {
		if err := WriteRetiredKeys(ctx, c, admin, keys); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := ReadKeyHistory(ctx, c); err != nil || h != (KeyHistory{OnCard: 3}) {
		t.Fatalf("key history after three keys: %+v, %v", h, err)
	}
	for i, k := range keys {
		slot := pivspec.SlotRetiredFirst + pivspec.Slot(i)
		got, err := c.Certificate(ctx, slot)
		if err != nil || !bytes.Equal(got.Raw, k.Certificate.Raw) {
			t.Fatalf("slot %s holds %v (%v), want %s", slot, got, err, k.Certificate.Subject)
		}
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("old mail"))
	sig, err := c.Sign(ctx, pivspec.SlotRetiredFirst, rsaKey.Public(), digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("slot 82 does not hold the newest key: %v", err)
	}
	for i, k := range keys[1:] {
		slot := pivspec.SlotRetiredFirst + pivspec.Slot(i+1)
		peer := ecKey(t)
		pub, _ := peer.PublicKey.ECDH()
		onCard, err := c.ECDH(ctx, slot, pub)
		if err != nil {
			t.Fatal(err)
		}
		mine, _ := k.Key.(*ecdsa.PrivateKey).ECDH()
		want, _ := mine.ECDH(pub)
		if !bytes.Equal(onCard, want) {
			t.Fatalf("slot %s does not hold its key", slot)
		}
	}

	if err := WriteRetiredKeys(ctx, c, admin, keys[:1]); err != nil {
		t.Fatal(err)
	}
	if h, err := ReadKeyHistory(ctx, c); err != nil || h.OnCard != 1 {
		t.Fatalf("key history after one key: %+v, %v", h, err)
	}
	for _, slot := range []pivspec.Slot{0x83, 0x84} {
		if _, err := c.Certificate(ctx, slot); err == nil {
			t.Errorf("slot %s still holds a certificate the key history no longer counts", slot)
		}
	}
}

// TestWriteRetiredKeysRefuses checks bad input before the card is touched:
// more keys than retired slots, and a key that is not its certificate's.
func TestWriteRetiredKeysRefuses(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	admin, err := Authenticate(ctx, c, factory)
	if err != nil {
		t.Fatal(err)
	}
	k := retiredKey(t, ecKey(t), "k")
	mismatched := RetiredKey{Key: ecKey(t), Certificate: k.Certificate}
	if err := WriteRetiredKeys(ctx, c, admin, []RetiredKey{k, mismatched}); err == nil {
		t.Fatal("a key with another key's certificate was written")
	}
	many := make([]RetiredKey, MaxRetiredKeys+1)
	for i := range many {
		many[i] = k
	}
	if err := WriteRetiredKeys(ctx, c, admin, many); err == nil {
		t.Fatal("21 retired keys were written")
	}
	if _, err := c.Certificate(ctx, pivspec.SlotRetiredFirst); err == nil {
		t.Fatal("a refused write wrote slot 82")
	}
}

// TestKeyHistoryEncoding checks the object's encoding both ways (SP
// 800-73-4 Part 1 table 19) and refuses counts past the 20 retired slots.
func TestKeyHistoryEncoding(t *testing.T) {
	h := KeyHistory{OnCard: 2, OffCard: 1, URL: "http://example.org/0123"}
	got, err := ParseKeyHistory(h.Encode())
	if err != nil || got != h {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if want := []byte{0xC1, 1, 3, 0xC2, 1, 0, 0xFE, 0}; !bytes.Equal((KeyHistory{OnCard: 3}).Encode(), want) {
		t.Fatalf("encoding % X, want % X", (KeyHistory{OnCard: 3}).Encode(), want)
	}
	for _, bad := range [][]byte{{0xC1, 1, 21}, {0xC1, 2, 0, 1}, {0xC1, 1, 15, 0xC2, 1, 6}, {0xC1}} {
		if _, err := ParseKeyHistory(bad); err == nil {
			t.Errorf("% X parsed", bad)
		}
	}
}

// noEarlierKey checks that retired slot slot holds no certificate and
// none of keys: GET METADATA finds no key (a card that can move keys
// deletes it), or a key that is none of them (a card that cannot is
// overwritten with a throw-away key).
func noEarlierKey(t *testing.T, c *piv.Card, slot pivspec.Slot, keys []RetiredKey) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Certificate(ctx, slot); err == nil {
		t.Errorf("slot %s still holds a certificate", slot)
	}
	m, err := c.Metadata(ctx, slot.Ref())
	if errors.Is(err, piv.ErrNotFound) {
		return
	}
	if err != nil {
		t.Fatalf("GET METADATA of slot %s: %v", slot, err)
	}
	for _, k := range keys {
		if PublicKeysEqual(m.PublicKey, k.Key.Public()) {
			t.Errorf("slot %s still holds the earlier key of %s", slot, k.Certificate.Subject)
		}
	}
}

// TestRetiredKeysRemoved: writing fewer retired keys than before destroys
// the keys of the slots the history no longer counts, not only their
// certificates; ClearRetiredKeys empties every retired slot and writes
// the key history back to none — on a card that can move keys (DELETE
// KEY) and on one that cannot (a throw-away key over each).
func TestRetiredKeysRemoved(t *testing.T) {
	for name, opts := range map[string][]emu.Option{"move key": nil, "without move key": {emu.WithoutMoveKey()}} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, c := mustCard(t, opts...)
			admin, err := Authenticate(ctx, c, factory)
			if err != nil {
				t.Fatal(err)
			}
			keys := []RetiredKey{retiredKey(t, ecKey(t), "newest"), retiredKey(t, ecKey(t), "middle"), retiredKey(t, ecKey(t), "oldest")}
			if err := WriteRetiredKeys(ctx, c, admin, keys); err != nil {
				t.Fatal(err)
			}
			if err := WriteRetiredKeys(ctx, c, admin, keys[:1]); err != nil {
				t.Fatal(err)
			}
			for _, slot := range []pivspec.Slot{0x83, 0x84} {
				noEarlierKey(t, c, slot, keys)
			}
			if changed, err := ClearRetiredKeys(ctx, c, admin); err != nil || !changed {
				t.Fatalf("ClearRetiredKeys: %v, %v", changed, err)
			}
			if h, err := ReadKeyHistory(ctx, c); err != nil || h != (KeyHistory{}) {
				t.Fatalf("key history after the clear: %+v, %v", h, err)
			}
			for n := 1; n <= 3; n++ {
				slot, _ := pivspec.RetiredSlot(n)
				noEarlierKey(t, c, slot, keys)
			}
			// A card that can delete keys is now empty; one that cannot
			// still holds the throw-away keys, which GET METADATA reports
			// and a clear overwrites again (it cannot tell them from a
			// retired key).
			if changed, err := ClearRetiredKeys(ctx, c, admin); err != nil || changed && opts == nil {
				t.Fatalf("ClearRetiredKeys of a card without retired keys: %v, %v", changed, err)
			}
		})
	}
}
