//go:build integration

package e2e

import (
	"context"
	"crypto/rand"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// TestIssuedCardRefusesFactoryPUK (issue 13, item 5) issues a card through
// the whole stack (agent, pcscd, vpcd) and then, as someone holding the
// stolen card would, runs `yubico-piv-tool -a unblock-pin -P 12345678`:
// the card refuses the factory PUK. The card's own PUK, which only the
// server holds sealed, unblocks it (read from the server's record and
// opened with its sealer here; never printed).
func TestIssuedCardRefusesFactoryPUK(t *testing.T) {
	needPIVTool(t)
	s, _, res := issuedOnStack(t, "eve")
	if res.State != "issued" || res.Card.PUKState != lanyard.PUKRandom {
		t.Fatalf("issued %s with PUK state %q, want issued, random", res.State, res.Card.PUKState)
	}
	s.agent.stop(t) // the card is the tool's now

	refusesFactoryPUK(t, s.reader)

	var card *lanyard.Card
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(res.Card.ID); return }); err != nil {
		t.Fatal(err)
	}
	puk, err := s.srv.Sealer.Open(card.SealedPUK, cardops.CardPUKAAD(card.ID))
	if err != nil || len(puk) != 8 {
		t.Fatalf("the card's sealed PUK does not open: %v", err)
	}
	if out, err := unblock(s.reader, string(puk)); err != nil {
		t.Fatalf("the card's own PUK does not unblock it: %v\n%s", err, out)
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "654321")
}

// TestSharedPUKReplacedWhenCardConnects (issue 13, item 5): a card issued
// before cards got their own PUK — the card type's default on the card,
// puk_state default on the server — gets its own random PUK as soon as it
// is connected to a workstation again: the agent reports it, the hub
// hands it to the service, which replaces the PUK through the agent.
func TestSharedPUKReplacedWhenCardConnects(t *testing.T) {
	s, c, res := issuedOnStack(t, "fay")
	s.pull(c)

	// As before issue 13: the default PUK on the card and in the record.
	ctx := context.Background()
	err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		card, err := tx.CardByID(res.Card.ID)
		if err != nil {
			return err
		}
		puk, err := s.srv.Sealer.Open(card.SealedPUK, cardops.CardPUKAAD(card.ID))
		if err != nil {
			return err
		}
		pc, err := piv.New(c.Card.Transport(), piv.Config{Rand: rand.Reader})
		if err != nil {
			return err
		}
		if _, err := pc.Select(ctx); err != nil {
			return err
		}
		if err := pc.ChangePUK(ctx, string(puk), pivspec.DefaultPUK); err != nil {
			return err
		}
		card.PUKState, card.SealedPUK = lanyard.PUKDefault, nil
		return tx.UpdateCard(card)
	})
	if err != nil {
		t.Fatal(err)
	}
	if v := s.cardView(res.Card.ID); v.PUKState != lanyard.PUKDefault {
		t.Fatalf("PUK state %q before the card connects, want default", v.PUKState)
	}

	s.insert(c)
	deadline := time.Now().Add(20 * time.Second)
	for s.cardView(res.Card.ID).PUKState != lanyard.PUKRandom {
		if time.Now().After(deadline) {
			t.Fatal("the card's shared PUK was not replaced within 20 s of its connection")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.agent.stop(t)
	refusesFactoryPUK(t, s.reader)
}

// issuedOnStack starts the stack, pairs login's workstation and issues
// the card inserted there (user PIN 24681357) through the API.
func issuedOnStack(t *testing.T, login string) (*stack, *vcard, *apiv1.IssueCardResult) {
	t.Helper()
	s, c, _, _, res := issueOnStack(t, login)
	return s, c, res
}

// issueOnStack is issuedOnStack that also returns login's client and
// API token; the card is made with opts.
func issueOnStack(t *testing.T, login string, opts ...emu.Option) (*stack, *vcard, *client.Client, string, *apiv1.IssueCardResult) {
	t.Helper()
	s := newStack(t)
	u, tok := s.user(login)
	s.pair(login)
	c := newVCard(t, opts...)
	s.insert(c)
	var res apiv1.IssueCardResult
	in := apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}
	if _, err := u.Post(context.Background(), "/api/v1/issue", in, &res); err != nil {
		t.Fatal(err)
	}
	return s, c, u, tok, &res
}

// unblock runs `yubico-piv-tool -a unblock-pin` on the card in reader
// with puk, setting the PIN to 654321; its output never shows puk.
func unblock(reader, puk string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "yubico-piv-tool", "-r", reader, "-a", "unblock-pin", "-P", puk, "-N", "654321").CombinedOutput()
	return strings.ReplaceAll(string(out), puk, "<PUK>"), err
}

// refusesFactoryPUK checks, as someone holding a stolen card would try,
// that the card in reader refuses the factory PUK 12345678.
func refusesFactoryPUK(t *testing.T, reader string) {
	t.Helper()
	needPIVTool(t)
	if out, err := unblock(reader, pivspec.DefaultPUK); err == nil {
		t.Fatalf("yubico-piv-tool unblocked the issued card in %s with the factory PUK:\n%s", reader, out)
	}
}
