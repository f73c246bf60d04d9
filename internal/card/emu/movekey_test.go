package emu_test

import (
	"bytes"
	"crypto/ecdsa"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// destroyRecorder is a key store that records the blobs the card
// destroys, as a TPM or server-side store would free them.
type destroyRecorder struct {
	pooledKeys
	mu        sync.Mutex
	destroyed [][]byte
}

func (d *destroyRecorder) Destroy(_ emu.Algorithm, blob []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.destroyed = append(d.destroyed, bytes.Clone(blob))
	return nil
}

func (d *destroyRecorder) took() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.destroyed
	d.destroyed = nil
	return out
}

// savedKey returns the saved state's key in ref.
func savedKey(t *testing.T, store *emu.MemoryStore, ref byte) (emu.SlotKey, bool) {
	t.Helper()
	st, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	k, ok := st.Keys[ref]
	return k, ok
}

// TestMoveKey: MOVE KEY (00 F6 to from) moves the key with its policies,
// leaves both certificate objects where they were, destroys the key it
// replaced through the KeyDestroyer and is saved; DELETE KEY (P1 FF)
// drops a key the same way.
func TestMoveKey(t *testing.T) {
	ks := &destroyRecorder{}
	store := &emu.MemoryStore{}
	c := newCard(t, emu.WithStateStore(store), emu.WithKeyStore(ks))
	c.expect(apdu.SWSecurityStatusNotSatisfied, 0xF6, 0x9A, 0x95, nil)
	c.authDefault()
	staged := c.generate(0x95, pivspec.AlgECCP256, 0xAA, 0x01, 0x02).(*ecdsa.PublicKey) // PIN once
	c.generate(0x9A, pivspec.AlgRSA2048)
	old, _ := savedKey(t, store, 0x9A)
	meta95 := c.must(0xF7, 0x00, 0x95, nil)
	cert := append(tlv(0x70, bytes.Repeat([]byte{0x30}, 40)), mustHex(t, "710100FE00")...)
	if sw := c.putData(mustHex(t, "5FC120"), cert); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	ks.took()

	c.must(0xF6, 0x9A, 0x95, nil)
	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x95, nil)
	if got := c.must(0xF7, 0x00, 0x9A, nil); !bytes.Equal(got, meta95) {
		t.Fatalf("metadata of 9A after the move %X, want 95's %X", got, meta95)
	}
	if d := ks.took(); len(d) != 1 || !bytes.Equal(d[0], old.Blob) {
		t.Fatalf("destroyed %d blobs, want the replaced 9A key's", len(d))
	}
	if r := c.getData(mustHex(t, "5FC120")); !bytes.Equal(r.Data, tlv(0x53, cert)) {
		t.Fatalf("the certificate object of 95 moved: %v", r.SW)
	}
	if r := c.getData(mustHex(t, "5FC105")); r.SW != apdu.SWNotFound {
		t.Fatalf("9A has a certificate object after the move: %v", r.SW)
	}
	c.verifyPIN(pivspec.DefaultPIN)
	d := sha256Sum([]byte("moved"))
	if !ecdsa.VerifyASN1(staged, d, field(t, c.sign(pivspec.AlgECCP256, 0x9A, d).Data, 0x82)) {
		t.Fatal("the moved key does not sign in 9A")
	}
	if _, ok := savedKey(t, store, 0x95); ok {
		t.Fatal("the saved state still has a key in 95")
	}

	// A restored card has the moved key in 9A.
	b := newCard(t, emu.WithStateStore(store), emu.WithKeyStore(ks))
	if got := b.must(0xF7, 0x00, 0x9A, nil); !bytes.Equal(got, meta95) {
		t.Fatalf("restored 9A metadata %X", got)
	}
	b.verifyPIN(pivspec.DefaultPIN)
	if !ecdsa.VerifyASN1(staged, d, field(t, b.sign(pivspec.AlgECCP256, 0x9A, d).Data, 0x82)) {
		t.Fatal("the restored card's 9A key does not sign")
	}

	// Onto its own slot: nothing changes, nothing is destroyed.
	c.must(0xF6, 0x9A, 0x9A, nil)
	if got := c.must(0xF7, 0x00, 0x9A, nil); !bytes.Equal(got, meta95) || len(ks.took()) != 0 {
		t.Fatal("a move onto the same slot changed the key")
	}

	// DELETE KEY.
	moved, _ := savedKey(t, store, 0x9A)
	c.must(0xF6, 0xFF, 0x9A, nil)
	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x9A, nil)
	if d := ks.took(); len(d) != 1 || !bytes.Equal(d[0], moved.Blob) {
		t.Fatalf("DELETE KEY destroyed %d blobs, want the key's", len(d))
	}
	if _, ok := savedKey(t, store, 0x9A); ok {
		t.Fatal("the saved state still has a key in 9A")
	}
	c.expect(apdu.SWReferenceNotFound, 0xF6, 0xFF, 0x9A, nil)

	// Into an empty slot: nothing to destroy.
	c.generate(0x9D, pivspec.AlgRSA2048)
	meta9D := c.must(0xF7, 0x00, 0x9D, nil)
	c.must(0xF6, 0x82, 0x9D, nil)
	if len(ks.took()) != 0 {
		t.Fatal("a move into an empty slot destroyed a key")
	}
	if got := c.must(0xF7, 0x00, 0x82, nil); !bytes.Equal(got, meta9D) {
		t.Fatal("82 does not hold the moved key")
	}
}

func TestMoveKeyRefusals(t *testing.T) {
	c := newCard(t)
	c.authDefault()
	c.generate(0x9A, pivspec.AlgECCP256)
	for _, tt := range []struct {
		name   string
		p1, p2 byte
		data   []byte
		want   apdu.SW
	}{
		{"empty source", 0x9C, 0x9D, nil, apdu.SWReferenceNotFound},
		{"delete an empty slot", 0xFF, 0x9D, nil, apdu.SWReferenceNotFound},
		{"the attestation key", 0x9C, 0xF9, nil, apdu.SWIncorrectP1P2},
		{"onto the attestation key", 0xF9, 0x9A, nil, apdu.SWIncorrectP1P2},
		{"delete the attestation key", 0xFF, 0xF9, nil, apdu.SWIncorrectP1P2},
		{"the management key", 0x9C, 0x9B, nil, apdu.SWIncorrectP1P2},
		{"not a slot", 0x96, 0x9A, nil, apdu.SWIncorrectP1P2},
		{"data", 0x9C, 0x9A, []byte{1}, apdu.SWWrongLength},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c.with(t).expect(tt.want, 0xF6, tt.p1, tt.p2, tt.data)
		})
	}
	c.must(0xF7, 0x00, 0x9A, nil) // still there
}

// TestMoveKeySaveFailure: when the state cannot be saved the card answers
// 6581, the key stays in its slot and nothing is destroyed.
func TestMoveKeySaveFailure(t *testing.T) {
	store := &failingStore{}
	ks := &destroyRecorder{}
	c := newCard(t, emu.WithStateStore(store), emu.WithKeyStore(ks))
	c.authDefault()
	c.generate(0x95, pivspec.AlgECCP256)
	c.generate(0x9A, pivspec.AlgECCP256)
	meta95 := c.must(0xF7, 0x00, 0x95, nil)
	ks.took()
	store.fail(true)
	c.expect(apdu.SWMemoryFailure, 0xF6, 0x9A, 0x95, nil)
	c.expect(apdu.SWMemoryFailure, 0xF6, 0xFF, 0x95, nil)
	store.fail(false)
	if got := c.must(0xF7, 0x00, 0x95, nil); !bytes.Equal(got, meta95) {
		t.Fatal("the key left 95 although the move was not saved")
	}
	if len(ks.took()) != 0 {
		t.Fatal("a key was destroyed although the move was not saved")
	}
}

// TestWithoutMoveKey: a card from before YubiKey 5.7 answers 6D00 to
// MOVE KEY.
func TestWithoutMoveKey(t *testing.T) {
	c := newCard(t, emu.WithoutMoveKey())
	c.authDefault()
	c.generate(0x95, pivspec.AlgECCP256)
	c.expect(apdu.SWInstructionNotSupported, 0xF6, 0x9A, 0x95, nil)
	c.expect(apdu.SWInstructionNotSupported, 0xF6, 0xFF, 0x95, nil)
	c.must(0xF7, 0x00, 0x95, nil)
}
