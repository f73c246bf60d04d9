package main

import (
	"bufio"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// TestAgentUnblockOfflineTPM is the tool's side of a TPM virtual card's
// offline unblock (the server's side: cardops' TestOfflineUnblockTPM*):
// on a TPM card (the reference TPM) armed as the server arms it, with
// its PIN blocked, `agent unblock --offline` shows the armed challenge
// with its tries and no expiry, takes the code with the new PIN, and the
// new PIN verifies; run again, it says the card holds no unused code; a
// wrong code says the tries left.
func TestAgentUnblockOfflineTPM(t *testing.T) {
	ctx := context.Background()
	tp := tpmtest.OpenSimulator(t, filepath.Join(t.TempDir(), "seed"))
	store, err := tpmkeys.New(tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	pc, serial := memoryCard(t, emu.WithKeyStore(store), emu.WithATR(tpmkeys.ATR))
	ch, _ := unblockcode.ChallengeFields{Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(serial), Counter: 4, Nonce: 77}.Pack()
	code := unblockcode.ResponseMAC([]byte("the server's key"), serial, ch)
	admin, err := pc.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.ArmOfflineUnblock(ctx, pivspec.DefaultPUK, 4, 77, code); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_ = pc.VerifyPIN(ctx, "000000")
	}
	run := func(input string) (string, error) {
		var out strings.Builder
		p := &prompter{r: bufio.NewReader(strings.NewReader(input)), out: &out}
		err := unblockOffline(ctx, pc, "Virtual PCD 00 00", false, t.TempDir(), p)
		return out.String(), err
	}

	wrong := code
	wrong[3] ^= 4
	said, err := run(unblockcode.Encode(unblockcode.Response, wrong) + "\n24682468\n24682468\n")
	if !strings.Contains(said, unblockcode.Encode(unblockcode.Challenge, ch)) || !strings.Contains(said, "valid until used; 3 tries") {
		t.Fatalf("the tool showed:\n%s", said)
	}
	if err == nil || !strings.Contains(err.Error(), "2 tries left") {
		t.Fatalf("a wrong code: %v", err)
	}
	said, err = run(unblockcode.Encode(unblockcode.Response, code) + "\n24682468\n24682468\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, said)
	}
	if !regexp.MustCompile(`valid until used; 2 tries`).MatchString(said) {
		t.Errorf("the second run showed:\n%s", said)
	}
	if err := pc.VerifyPIN(ctx, "24682468"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	if _, err := run("\n"); err == nil || !strings.Contains(err.Error(), "PIN is not blocked") {
		t.Fatalf("run again with the PIN fine: %v", err)
	}
	p := &prompter{r: bufio.NewReader(strings.NewReader("")), out: &strings.Builder{}}
	if err := unblockOffline(ctx, pc, "r", true, t.TempDir(), p); err == nil || !strings.Contains(err.Error(), "no unused unblock code") {
		t.Fatalf("--forgot on a card whose code was used: %v", err)
	}
}
