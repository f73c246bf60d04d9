package personalize

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func mustCard(t *testing.T, opts ...emu.Option) (*emu.Card, *piv.Card) {
	t.Helper()
	e, err := emu.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := piv.New(e.Transport(), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e, c
}

var factory = Key{Kind: lanyard.AdminKey3DES, Value: pivspec.DefaultManagementKey()}

// TestTakeover moves a factory-fresh card to its diversified AES-192 key:
// afterwards the factory key is refused, the diversified key works, a
// second card gets a different key, and an interrupted takeover resumes.
func TestTakeover(t *testing.T) {
	ctx := context.Background()
	m := Master{Version: 1, Secret: bytes.Repeat([]byte{0x42}, 32)}
	_, c := mustCard(t)
	id, err := LegacyCardID(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := Takeover(ctx, c, factory, lanyard.AdminKeyAES192, m, id)
	if err != nil || admin == nil {
		t.Fatalf("Takeover: %v", err)
	}
	if _, err := Authenticate(ctx, c, factory); !errors.Is(err, piv.ErrManagementKey) {
		t.Fatalf("factory key after takeover: %v, want ErrManagementKey", err)
	}
	key, _ := Diversified(m, lanyard.AdminKeyAES192, id)
	if _, err := Authenticate(ctx, c, key); err != nil {
		t.Fatalf("diversified key: %v", err)
	}
	// Resuming a takeover whose SET MANAGEMENT KEY already went through.
	if _, err := Takeover(ctx, c, factory, lanyard.AdminKeyAES192, m, id); err != nil {
		t.Fatalf("repeated takeover: %v", err)
	}
	// Another card, another key.
	_, c2 := mustCard(t)
	id2, _ := LegacyCardID(ctx, c2)
	if _, err := Takeover(ctx, c2, factory, lanyard.AdminKeyAES192, m, id2); err != nil {
		t.Fatal(err)
	}
	key2, _ := Diversified(m, lanyard.AdminKeyAES192, id2)
	if bytes.Equal(id, id2) || bytes.Equal(key.Value, key2.Value) {
		t.Fatal("two cards share an identifier or a key")
	}
	if _, err := Authenticate(ctx, c, key2); !errors.Is(err, piv.ErrManagementKey) {
		t.Fatalf("card 1 accepts card 2's key: %v", err)
	}
	// A card whose key is neither expected one is refused clearly.
	_, c3 := mustCard(t)
	wrong := Key{Kind: lanyard.AdminKey3DES, Value: bytes.Repeat([]byte{9}, 24)}
	if _, err := Takeover(ctx, c3, wrong, lanyard.AdminKeyAES192, m, id); err == nil {
		t.Fatal("takeover with a wrong current key succeeded")
	}
	// Rotation: the same card under master version 2 gets a new key.
	m2 := Master{Version: 2, Secret: m.Secret}
	key3, _ := Diversified(m2, lanyard.AdminKeyAES192, id)
	if bytes.Equal(key3.Value, key.Value) {
		t.Fatal("a new master version gives the same key")
	}
}
