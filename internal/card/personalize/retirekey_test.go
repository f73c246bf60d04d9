package personalize

import (
	"bytes"
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestRetireKey moves the key of slot 9D, with its certificate, into the
// next retired slot after an existing history of one key: the Key History
// Object counts two, 83 holds the certificate and does the key's ECDH,
// 9D holds no key. Run again (a resumed step) it changes nothing. A slot
// that does not follow the history, and a key in neither slot, are
// refused.
func TestRetireKey(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	admin, err := Authenticate(ctx, c, factory)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteRetiredKeys(ctx, c, admin, []RetiredKey{retiredKey(t, ecKey(t), "archived")}); err != nil {
		t.Fatal(err)
	}
	key := ecKey(t)
	old := retiredKey(t, key, "only on the card")
	if err := ImportKey(ctx, admin, pivspec.SlotKeyManagement, key); err != nil {
		t.Fatal(err)
	}
	if err := RetireKey(ctx, c, admin, pivspec.SlotKeyManagement, 0x84, old.Certificate); err == nil {
		t.Fatal("retired into 84 with the history at one key, want refused (82 up without a gap)")
	}
	for range 2 {
		if err := RetireKey(ctx, c, admin, pivspec.SlotKeyManagement, 0x83, old.Certificate); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := ReadKeyHistory(ctx, c); err != nil || h.OnCard != 2 {
		t.Fatalf("key history %+v, %v; want two keys", h, err)
	}
	if got, err := c.Certificate(ctx, 0x83); err != nil || !bytes.Equal(got.Raw, old.Certificate.Raw) {
		t.Fatalf("slot 83 holds %v, %v", got, err)
	}
	if pub, err := SlotPublicKey(ctx, c, pivspec.SlotKeyManagement); err != nil || pub != nil {
		t.Fatalf("slot 9D still holds a key (%v, %v)", pub, err)
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	peer := ecKey(t)
	pub, _ := peer.PublicKey.ECDH()
	onCard, err := c.ECDH(ctx, 0x83, pub)
	if err != nil {
		t.Fatal(err)
	}
	mine, _ := key.ECDH()
	if want, _ := mine.ECDH(pub); !bytes.Equal(onCard, want) {
		t.Fatal("slot 83 does not hold the retired key")
	}
	other := retiredKey(t, ecKey(t), "elsewhere")
	if err := RetireKey(ctx, c, admin, pivspec.SlotKeyManagement, 0x84, other.Certificate); err == nil {
		t.Fatal("retired a key that is in neither slot")
	}
}
