package tpmkeys_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// tpmCard is a TPM virtual smart card in process with a PIV client on it.
type tpmCard struct {
	t     testing.TB
	tpm   *tpm.TPM
	store *tpmkeys.Store
	st    *emu.MemoryStore
	card  *emu.Card
	c     *piv.Card
}

// newTPMCard builds the card on tp from st (a new MemoryStore when nil),
// exactly as the agent does, and selects PIV.
func newTPMCard(t testing.TB, tp *tpm.TPM, st *emu.MemoryStore) *tpmCard {
	t.Helper()
	if st == nil {
		st = &emu.MemoryStore{}
	}
	store, err := tpmkeys.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	card, err := emu.New(emu.WithStateStore(st), emu.WithKeyStore(store), emu.WithATR(tpmkeys.ATR))
	if err != nil {
		t.Fatal(err)
	}
	return &tpmCard{t: t, tpm: tp, store: store, st: st, card: card, c: client(t, card)}
}

// client returns a selected PIV client on card.
func client(t testing.TB, card *emu.Card) *piv.Card {
	t.Helper()
	c, err := piv.New(card.Transport(), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

// admin authenticates the factory management key.
func (tc *tpmCard) admin() *piv.Admin {
	tc.t.Helper()
	a, err := tc.c.Authenticate(context.Background(), pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		tc.t.Fatal(err)
	}
	return a
}

// generate makes an RSA key in slot with the default policy.
func (tc *tpmCard) generate(slot piv.Slot, alg piv.Algorithm) *rsa.PublicKey {
	tc.t.Helper()
	pub, err := tc.admin().GenerateKey(context.Background(), slot, alg, piv.KeyPolicy{})
	if err != nil {
		tc.t.Fatalf("generate %v %s: %v", slot, alg, err)
	}
	return pub.(*rsa.PublicKey)
}

// verifyPIN verifies pin and fails the test on error.
func (tc *tpmCard) verifyPIN(pin string) {
	tc.t.Helper()
	if err := tc.c.VerifyPIN(context.Background(), pin); err != nil {
		tc.t.Fatalf("VERIFY %q: %v", pin, err)
	}
}

// info returns the TPM's Info.
func (tc *tpmCard) info() tpm.Info {
	tc.t.Helper()
	i, err := tc.tpm.Info()
	if err != nil {
		tc.t.Fatal(err)
	}
	return i
}

// state returns the card's saved state.
func (tc *tpmCard) state() *emu.State {
	tc.t.Helper()
	s, err := tc.st.Load()
	if err != nil {
		tc.t.Fatal(err)
	}
	return s
}

// send sends one raw command through an apdu.Client.
func (tc *tpmCard) send(cmd apdu.Command) apdu.Response {
	tc.t.Helper()
	r, err := (&apdu.Client{Transport: tc.card.Transport()}).Send(context.Background(), cmd)
	if err != nil {
		tc.t.Fatal(err)
	}
	return r
}

// swOf returns the status word in a piv error, 0 when there is none.
func swOf(err error) apdu.SW {
	var se *apdu.StatusError
	if errors.As(err, &se) {
		return se.SW
	}
	return 0
}

// simulator opens the simulator with a seed file in a temporary
// directory and returns it with the seed file's path.
func simulator(t testing.TB) (*tpm.TPM, string) {
	t.Helper()
	seed := filepath.Join(t.TempDir(), "seed")
	return tpmtest.OpenSimulator(t, seed), seed
}
