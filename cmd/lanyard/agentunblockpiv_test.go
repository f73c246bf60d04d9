package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/pukescrow"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// pivToolCard is a standard PIV card (no Lanyard instructions, as a
// YubiKey) in memory with its PIN blocked, and its serial.
func pivToolCard(t *testing.T) (*piv.Card, string) {
	t.Helper()
	pc, serial := memoryCard(t, emu.WithoutLanyardExtensions())
	for range 3 {
		_ = pc.VerifyPIN(context.Background(), "000000")
	}
	return pc, serial
}

// memoryCard is an emulated card in memory made with opts, selected, and
// its serial.
func memoryCard(t *testing.T, opts ...emu.Option) (*piv.Card, string) {
	t.Helper()
	card, err := emu.New(append([]emu.Option{emu.WithStateStore(&emu.MemoryStore{})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := piv.New(card.Transport(), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return pc, strconv.FormatUint(uint64(card.Serial()), 10)
}

// keepRules writes the PIN rules the agent keeps for serial, the card
// listed as the workstation owner's (owned) or not.
func keepRules(t *testing.T, state, serial string, owned bool) {
	t.Helper()
	b := fmt.Sprintf(`{"cards":{%q:{"serial":%q,"card_type":"piv","min_length":6,"max_length":8,"owned":%v}}}`, serial, serial, owned)
	if err := os.WriteFile(filepath.Join(state, "pin-rules.json"), []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The tool's side of a standard card's offline unblock: the roll-forward
// runs only for a card the server listed as the workstation owner's (its
// escrow would be refused otherwise, and the card's PUK lost); a second
// unblock before the first escrow left this computer is refused before a
// challenge is shown (its released PUK would be stale), and so is a card
// with fewer than two PUK tries left: no try is spent.
func TestAgentUnblockOfflinePIVRollForward(t *testing.T) {
	ctx := context.Background()
	state := t.TempDir()
	_, pub, err := pukescrow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "puk-escrow.pub"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	nonces := pivNonceStore{dir: t.TempDir()}
	run := func(pc *piv.Card, serial, puk string) (string, error) {
		n, err := nonces.get(serial, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ch, _ := unblockcode.ChallengeFields{Scheme: unblockcode.SchemePIVPUK, CardTag: unblockcode.CardTag(serial), Nonce: n.Nonce}.Pack()
		r, err := unblockcode.PUKResponse(serial, ch, puk)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		p := &prompter{r: bufio.NewReader(strings.NewReader(unblockcode.Encode(unblockcode.Response, r) + "\n24682468\n24682468\n")), out: &out}
		err = unblockOfflinePIV(ctx, pc, "Virtual PCD 00 00", false, p, nonces, state)
		return out.String(), err
	}
	pukTries := func(pc *piv.Card) int {
		md, err := pc.Metadata(ctx, pivspec.KeyPUK)
		if err != nil {
			t.Fatal(err)
		}
		return md.RetriesLeft
	}
	spooled := func() int {
		files, _ := filepath.Glob(filepath.Join(state, "escrow", "*.json"))
		return len(files)
	}

	// A card the server does not list as the workstation owner's (a
	// colleague's, a shared computer): unblocked, the PUK unchanged.
	pc, serial := pivToolCard(t)
	keepRules(t, state, serial, false)
	said, err := run(pc, serial, pivspec.DefaultPUK)
	if err != nil {
		t.Fatalf("%v\n%s", err, said)
	}
	if !strings.Contains(said, "stays valid") || !strings.Contains(said, "owner") || spooled() != 0 {
		t.Errorf("%d escrows spooled; the tool said:\n%s", spooled(), said)
	}
	if err := pc.UnblockPIN(ctx, pivspec.DefaultPUK, "13571357"); err != nil {
		t.Fatalf("the released PUK was changed for a card whose escrow the server refuses: %v", err)
	}

	// The owner's card: rolled forward, the escrow spooled.
	for range 3 {
		_ = pc.VerifyPIN(ctx, "000000")
	}
	keepRules(t, state, serial, true)
	if said, err = run(pc, serial, pivspec.DefaultPUK); err != nil || !strings.Contains(said, "nobody has seen") || spooled() != 1 {
		t.Fatalf("%v, %d escrows spooled; the tool said:\n%s", err, spooled(), said)
	}
	// Again before the escrow left this computer: refused, no try spent.
	for range 3 {
		_ = pc.VerifyPIN(ctx, "000000")
	}
	if said, err = run(pc, serial, pivspec.DefaultPUK); err == nil || !strings.Contains(err.Error(), "connect this computer to the network") || strings.Contains(said, "challenge") {
		t.Fatalf("a second unblock with the escrow still spooled: %v\n%s", err, said)
	}
	if left := pukTries(pc); left != 3 {
		t.Errorf("%d PUK tries left, want 3", left)
	}

	// A card with one PUK try left: refused before the challenge.
	pc, serial = pivToolCard(t)
	keepRules(t, state, serial, true)
	for range 2 {
		_ = pc.ChangePUK(ctx, "87654321", "87654321")
	}
	if left := pukTries(pc); left != 1 {
		t.Fatalf("%d PUK tries left, want 1", left)
	}
	if said, err = run(pc, serial, pivspec.DefaultPUK); err == nil || !strings.Contains(err.Error(), "1 try left") {
		t.Fatalf("a card with one PUK try left: %v\n%s", err, said)
	}
	if left := pukTries(pc); left != 1 {
		t.Errorf("%d PUK tries left after the refusal, want 1", left)
	}
}
