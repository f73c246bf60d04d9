package personalize

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// mustAdmin authenticates c's factory management key.
func mustAdmin(t *testing.T, c *piv.Card) *piv.Admin {
	t.Helper()
	a, err := AuthenticateStatic(context.Background(), c, FactoryKeys().Admin)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// mustGenerate generates a P-256 key in slot.
func mustGenerate(t *testing.T, a *piv.Admin, slot piv.Slot) *x509.Certificate {
	t.Helper()
	pub, err := GenerateKey(context.Background(), a, slot, lanyard.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	return certificateFor(t, pub)
}

// withoutINS returns a PIV client on e whose commands with instruction ins
// are answered 6D00 (instruction not supported) without reaching the
// card: the emulator as a standard PIV card without that vendor
// instruction.
func withoutINS(t *testing.T, e *emu.Card, ins byte) *piv.Card {
	t.Helper()
	inner := e.Transport()
	tr := apdu.TransportFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		if len(cmd) >= 2 && cmd[1] == ins {
			return []byte{0x6D, 0x00}, nil
		}
		return inner.Transmit(ctx, cmd)
	})
	c, err := piv.New(tr, piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCanMoveKeys(t *testing.T) {
	ctx := context.Background()
	e, c := mustCard(t)
	if ok, err := CanMoveKeys(ctx, c); !ok || err != nil {
		t.Errorf("CanMoveKeys(emulator) = %v, %v; want true", ok, err)
	}
	_, old := mustCard(t, emu.WithoutMoveKey())
	if ok, err := CanMoveKeys(ctx, old); ok || err != nil {
		t.Errorf("CanMoveKeys(5.4.3 card) = %v, %v; want false", ok, err)
	}
	if ok, err := CanMoveKeys(ctx, withoutINS(t, e, pivspec.InsGetVersion)); ok || err != nil {
		t.Errorf("CanMoveKeys(card without GET VERSION) = %v, %v; want false", ok, err)
	}
	// A YubiKey 5.7 is told by its version alone: the replay fails on
	// any further command.
	yk := replayPIV(t, `
> 00 FD 00 00 00
< 050701 9000
`)
	if ok, err := CanMoveKeys(ctx, yk); !ok || err != nil {
		t.Errorf("CanMoveKeys(YubiKey 5.7.1) = %v, %v; want true", ok, err)
	}
}

// replayPIV returns a PIV client that must exchange exactly transcript.
func replayPIV(t *testing.T, transcript string) *piv.Card {
	t.Helper()
	c, err := piv.New(apdutest.NewReplay(t, apdutest.MustTranscript(t, transcript)), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMoveAndDeleteKey(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	a := mustAdmin(t, c)
	cert := mustGenerate(t, a, 0x95)
	mustGenerate(t, a, pivspec.SlotAuthentication)
	if err := MoveKey(ctx, a, 0x95, pivspec.SlotAuthentication); err != nil {
		t.Fatal(err)
	}
	if pub, err := SlotPublicKey(ctx, c, pivspec.SlotAuthentication); err != nil || !PublicKeysEqual(pub, cert.PublicKey) {
		t.Fatalf("SlotPublicKey(9a) after the move = %v, %v; want the moved key", pub, err)
	}
	if pub, err := SlotPublicKey(ctx, c, 0x95); pub != nil || err != nil {
		t.Fatalf("SlotPublicKey(95) after the move = %v, %v; want nil, nil", pub, err)
	}
	if err := MoveKey(ctx, a, 0x95, pivspec.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) || lanyard.ErrorCode(err) == lanyard.EInternal {
		t.Fatalf("MoveKey from an empty slot = %v, want a card error matching piv.ErrNotFound", err)
	}
	if err := DeleteKey(ctx, a, pivspec.SlotAuthentication); err != nil {
		t.Fatal(err)
	}
	if pub, err := SlotPublicKey(ctx, c, pivspec.SlotAuthentication); pub != nil || err != nil {
		t.Fatalf("SlotPublicKey(9a) after DeleteKey = %v, %v; want nil, nil", pub, err)
	}
	if err := DeleteKey(ctx, a, pivspec.SlotAuthentication); err != nil {
		t.Fatalf("DeleteKey of an empty slot = %v, want nil", err)
	}

	_, old := mustCard(t, emu.WithoutMoveKey())
	oa := mustAdmin(t, old)
	mustGenerate(t, oa, 0x95)
	for name, err := range map[string]error{
		"MoveKey":   MoveKey(ctx, oa, 0x95, pivspec.SlotAuthentication),
		"DeleteKey": DeleteKey(ctx, oa, 0x95),
	} {
		if !errors.Is(err, piv.ErrUnsupported) || !lanyard.IsCode(err, lanyard.EConflict) {
			t.Errorf("%s on a card without MOVE KEY = %v, want EConflict matching piv.ErrUnsupported", name, err)
		}
	}
}

func TestSlotPublicKeyUnsupported(t *testing.T) {
	e, _ := mustCard(t)
	c := withoutINS(t, e, pivspec.InsGetMetadata)
	if _, err := SlotPublicKey(context.Background(), c, pivspec.SlotAuthentication); !errors.Is(err, piv.ErrUnsupported) {
		t.Fatalf("SlotPublicKey without GET METADATA = %v, want piv.ErrUnsupported", err)
	}
}

// TestFreeRetiredSlot: the search runs from 95 down, passes over slots
// with a certificate object or a key and the skipped ones, and fails with
// EConflict when all twenty are taken.
func TestFreeRetiredSlot(t *testing.T) {
	ctx := context.Background()
	e, c := mustCard(t)
	a := mustAdmin(t, c)
	free := func(want piv.Slot, skip ...piv.Slot) {
		t.Helper()
		if got, err := FreeRetiredSlot(ctx, c, skip...); got != want || err != nil {
			t.Fatalf("FreeRetiredSlot(skip %v) = %02X, %v; want %02X", skip, byte(got), err, byte(want))
		}
	}
	free(0x95)
	// A certificate object without a key.
	other := mustGenerate(t, a, pivspec.SlotAuthentication)
	if err := a.PutCertificate(ctx, 0x95, other); err != nil {
		t.Fatal(err)
	}
	free(0x94)
	// A key without a certificate object.
	mustGenerate(t, a, 0x94)
	free(0x93)
	free(0x92, 0x93)
	// The key history's end, 82, is the last one taken.
	for s := piv.Slot(0x93); s > 0x82; s-- {
		mustGenerate(t, a, s)
	}
	free(0x82)
	mustGenerate(t, a, 0x82)
	_, err := FreeRetiredSlot(ctx, c)
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("FreeRetiredSlot on a full card = %v, want EConflict", err)
	}
	if err := DeleteKey(ctx, a, 0x88); err != nil {
		t.Fatal(err)
	}
	free(0x88)
	if _, err := FreeRetiredSlot(ctx, c, 0x88); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("FreeRetiredSlot skipping the only free slot = %v, want EConflict", err)
	}
	if _, err := FreeRetiredSlot(ctx, withoutINS(t, e, pivspec.InsGetMetadata)); !errors.Is(err, piv.ErrUnsupported) {
		t.Fatalf("FreeRetiredSlot without GET METADATA = %v, want piv.ErrUnsupported", err)
	}
}

// TestFreeRetiredSlotSkipsKeyHistory: the retired slots the Key History
// Object counts are never chosen to stage a key in, even one left empty by
// an interrupted write of the history.
func TestFreeRetiredSlotSkipsKeyHistory(t *testing.T) {
	ctx := context.Background()
	_, c := mustCard(t)
	a := mustAdmin(t, c)
	// Every retired slot from 95 down to 84 taken; 82 and 83 empty, but
	// the key history counts two keys.
	for s := piv.Slot(0x95); s >= 0x84; s-- {
		mustGenerate(t, a, s)
	}
	if got, err := FreeRetiredSlot(ctx, c); got != 0x83 || err != nil {
		t.Fatalf("FreeRetiredSlot without a key history = %02X, %v; want 83", byte(got), err)
	}
	if err := a.WriteObject(ctx, pivspec.ObjectKeyHistory, KeyHistory{OnCard: 2}.Encode()); err != nil {
		t.Fatal(err)
	}
	if got, err := FreeRetiredSlot(ctx, c); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("FreeRetiredSlot with slots 82 and 83 in the key history = %02X, %v; want EConflict", byte(got), err)
	}
	if got, err := HistorySlots(ctx, c); err != nil || len(got) != 2 || got[0] != 0x82 || got[1] != 0x83 {
		t.Fatalf("HistorySlots = %v, %v", got, err)
	}
}

// TestReadBack: the written certificate and its key read back; another
// certificate, another key, a missing object or a missing key is an
// EConflict; a card without GET METADATA has only its object compared.
func TestReadBack(t *testing.T) {
	ctx := context.Background()
	e, c := mustCard(t)
	a := mustAdmin(t, c)
	slot := pivspec.SlotAuthentication
	if _, err := ReadBack(ctx, c, slot, certificateFor(t, mustGenerate(t, a, 0x82).PublicKey)); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("ReadBack of an empty slot = %v, want EConflict", err)
	}
	cert := mustGenerate(t, a, slot)
	if err := WriteCertificate(ctx, c, a, slot, cert); err != nil {
		t.Fatal(err)
	}
	if checked, err := ReadBack(ctx, c, slot, cert); !checked || err != nil {
		t.Fatalf("ReadBack = %v, %v; want true, nil", checked, err)
	}
	// Another certificate for the same key.
	again := certificateFor(t, cert.PublicKey)
	if _, err := ReadBack(ctx, c, slot, again); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("ReadBack of another certificate = %v, want EConflict", err)
	}
	// The object holds the certificate, the slot another key.
	mustGenerate(t, a, slot)
	if _, err := ReadBack(ctx, c, slot, cert); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("ReadBack with another key in the slot = %v, want EConflict", err)
	}
	// The object without a key.
	if err := DeleteKey(ctx, a, slot); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBack(ctx, c, slot, cert); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("ReadBack with no key in the slot = %v, want EConflict", err)
	}
	// Without GET METADATA only the object is compared (the same card,
	// reselected: its management key status is gone from here on).
	if checked, err := ReadBack(ctx, withoutINS(t, e, pivspec.InsGetMetadata), slot, cert); checked || err != nil {
		t.Fatalf("ReadBack without GET METADATA = %v, %v; want false, nil", checked, err)
	}
}
