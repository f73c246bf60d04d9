package tpmkeys_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// TestRestartSurvival closes the TPM and reopens the simulator with the
// same seed file, as the agent does after a restart: the SRK is the same,
// the card's blobs load, the PIN works and the key signs.
func TestRestartSurvival(t *testing.T) {
	ctx := context.Background()
	seed := filepath.Join(t.TempDir(), "seed")
	st := &emu.MemoryStore{}
	tp := tpmtest.OpenSimulator(t, seed)
	tc := newTPMCard(t, tp, st)
	pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
	if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "31415926"); err != nil {
		t.Fatal(err)
	}
	serial := tc.card.Serial()
	tc.store.Close()
	tp.Close()

	tc = newTPMCard(t, tpmtest.OpenSimulator(t, seed), st)
	if tc.card.Serial() != serial {
		t.Fatal("another card")
	}
	tc.verifyPIN("31415926")
	digest := sha256.Sum256([]byte("after a restart"))
	sig, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
	if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
		t.Fatalf("signing after a restart: %v", err)
	}
}
