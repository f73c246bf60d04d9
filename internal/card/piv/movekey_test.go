package piv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestMoveKeyTranscript checks the encoding of YubiKey 5.7's MOVE KEY, as
// yubikit (piv.py, move_key and delete_key) sends it: P1 the destination,
// P2 the source; P1 FF deletes the key in P2.
func TestMoveKeyTranscript(t *testing.T) {
	ctx := context.Background()
	a := replayAdmin(t, `
# MOVE KEY 95 → 9A
> 00 F6 9A 95
< 9000
# DELETE KEY 82
> 00 F6 FF 82
< 9000
`)
	if err := a.MoveKey(ctx, pivspec.SlotRetiredLast, pivspec.SlotAuthentication); err != nil {
		t.Fatalf("MoveKey: %v", err)
	}
	if err := a.DeleteKey(ctx, pivspec.SlotRetiredFirst); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
}

func TestMoveKeyErrors(t *testing.T) {
	ctx := context.Background()
	a := replayAdmin(t, `
# the source slot is empty
> 00 F6 9C 83
< 6A82
# a card before YubiKey 5.7
> 00 F6 9D 84
< 6D00
> 00 F6 FF 9D
< 6D00
# the management key is not authenticated (any more)
> 00 F6 FF 9E
< 6982
`)
	if err := a.MoveKey(ctx, 0x83, pivspec.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Errorf("MoveKey from an empty slot = %v, want ErrNotFound", err)
	}
	if err := a.MoveKey(ctx, 0x84, pivspec.SlotKeyManagement); !errors.Is(err, piv.ErrUnsupported) {
		t.Errorf("MoveKey on an older card = %v, want ErrUnsupported", err)
	}
	if err := a.DeleteKey(ctx, pivspec.SlotKeyManagement); !errors.Is(err, piv.ErrUnsupported) {
		t.Errorf("DeleteKey on an older card = %v, want ErrUnsupported", err)
	}
	if err := a.DeleteKey(ctx, pivspec.SlotCardAuthentication); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Errorf("DeleteKey without the management key = %v, want ErrSecurityStatus", err)
	}
	// Nothing is sent for slots that are no key slots, nor for the
	// attestation key: the replay would fail on any command.
	for _, bad := range []struct{ from, to piv.Slot }{
		{0x9B, pivspec.SlotAuthentication},
		{pivspec.SlotAuthentication, 0x96},
		{pivspec.SlotAttestation, pivspec.SlotAuthentication},
		{pivspec.SlotAuthentication, pivspec.SlotAttestation},
	} {
		if err := a.MoveKey(ctx, bad.from, bad.to); err == nil {
			t.Errorf("MoveKey(%02X, %02X) = nil, want an error", byte(bad.from), byte(bad.to))
		}
	}
	if err := a.DeleteKey(ctx, pivspec.SlotAttestation); err == nil {
		t.Error("DeleteKey(F9) = nil, want an error")
	}
}

// TestHasMoveKeyTranscript: the probe is a MOVE KEY of the management key
// onto itself; an error status other than "not supported" means the card
// knows the instruction.
func TestHasMoveKeyTranscript(t *testing.T) {
	ctx := context.Background()
	c := replayCard(t, `
# the emulator: the parameters are refused
> 00 F6 9B 9B
< 6A86
# a YubiKey 5.7 checking authentication first
> 00 F6 9B 9B
< 6982
# a YubiKey before 5.7
> 00 F6 9B 9B
< 6D00
> 00 F6 9B 9B
< 6E00
# a card that claims to have done it does not follow MOVE KEY
> 00 F6 9B 9B
< 9000
`)
	for i, want := range []bool{true, true, false, false, false} {
		if got, err := c.HasMoveKey(ctx); got != want || err != nil {
			t.Errorf("HasMoveKey #%d = %v, %v; want %v", i+1, got, err, want)
		}
	}
}
