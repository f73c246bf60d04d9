//go:build integration

package tpmkeys_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// TestSwtpm runs the same suite on swtpm (scripts/swtpm-test.sh).
func TestSwtpm(t *testing.T) {
	runSuite(t, func(t *testing.T) *tpm.TPM { return tpmtest.OpenSwtpm(t) })
}

// TestOfflineUnblockSwtpm runs the offline unblock tests on swtpm.
func TestOfflineUnblockSwtpm(t *testing.T) {
	runOfflineSuite(t, func(t *testing.T) *tpm.TPM { return tpmtest.OpenSwtpm(t) })
}

// TestBlobsOfAnotherTPM makes a card in one TPM and starts it on others:
// the simulator with another seed, and swtpm. Both refuse it with
// ErrForeignBlob, as does loading its key blob directly.
func TestBlobsOfAnotherTPM(t *testing.T) {
	dir := t.TempDir()
	st := &emu.MemoryStore{}
	tp := tpmtest.OpenSimulator(t, filepath.Join(dir, "seed-a"))
	tc := newTPMCard(t, tp, st)
	tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
	blob := tc.state().Keys[emu.SlotAuthentication].Blob
	tc.store.Close()
	tp.Close()

	others := map[string]func(t *testing.T) *tpm.TPM{
		"simulator with another seed": func(t *testing.T) *tpm.TPM {
			return tpmtest.OpenSimulator(t, filepath.Join(dir, "seed-b"))
		},
		"swtpm": func(t *testing.T) *tpm.TPM { return tpmtest.OpenSwtpm(t) },
	}
	for name, open := range others {
		t.Run(name, func(t *testing.T) {
			tp := open(t)
			defer tp.Close()
			store, err := tpmkeys.New(tp)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			_, err = emu.New(emu.WithStateStore(st), emu.WithKeyStore(store), emu.WithATR(tpmkeys.ATR))
			if !errors.Is(err, tpmkeys.ErrForeignBlob) || !strings.Contains(err.Error(), "not made by this TPM") {
				t.Fatalf("starting the card on another TPM: %v", err)
			}
			t.Logf("as expected: %v", err)
			if _, err := store.Load(pivspec.AlgRSA2048, blob); !errors.Is(err, tpmkeys.ErrForeignBlob) {
				t.Fatalf("loading the key blob on another TPM: %v", err)
			}
		})
	}
}
