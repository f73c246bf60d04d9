package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
)

// TestIssuedCardRefusesFactoryPUK (issue 13, item 5) issues a card through
// the whole stack (agent, pcscd, vpcd) and then, as someone holding the
// stolen card would, runs `yubico-piv-tool -a unblock-pin -P 12345678`:
// the card refuses the factory PUK. The card's own PUK, which only the
// server holds sealed, unblocks it (read from the server's record and
// opened with its sealer here; never printed).
func TestIssuedCardRefusesFactoryPUK(t *testing.T) {
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Skip("yubico-piv-tool is not installed")
	}
	s := newStack(t)
	eve, _ := s.user("eve")
	s.pair("eve")
	c := newVCard(t)
	s.insert(c)

	var res service.IssueCardResult
	in := service.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}
	if _, err := eve.Post(context.Background(), "/api/v1/issue", in, &res); err != nil {
		t.Fatal(err)
	}
	if res.State != "issued" || res.Card.PUKState != lanyard.PUKRandom {
		t.Fatalf("issued %s with PUK state %q, want issued, random", res.State, res.Card.PUKState)
	}
	s.agent.stop(t) // the card is the tool's now

	unblock := func(puk string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "yubico-piv-tool", "-r", s.reader, "-a", "unblock-pin", "-P", puk, "-N", "654321").CombinedOutput()
		return strings.ReplaceAll(string(out), puk, "<PUK>"), err
	}
	if out, err := unblock("12345678"); err == nil {
		t.Fatalf("yubico-piv-tool unblocked the issued card with the factory PUK:\n%s", out)
	} else {
		t.Logf("the factory PUK is refused: %v\n%s", err, out)
	}

	var card *lanyard.Card
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(res.Card.ID); return }); err != nil {
		t.Fatal(err)
	}
	puk, err := s.srv.Sealer.Open(card.SealedPUK, service.CardPUKAAD(card.ID))
	if err != nil || len(puk) != 8 {
		t.Fatalf("the card's sealed PUK does not open: %v", err)
	}
	if out, err := unblock(string(puk)); err != nil {
		t.Fatalf("the card's own PUK does not unblock it: %v\n%s", err, out)
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "654321")
}
