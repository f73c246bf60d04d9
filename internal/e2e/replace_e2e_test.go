//go:build integration

package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestCLIReplaceCard replaces a lost card with the lanyard binary, through
// pcscd and vpcd: the user issues a card and loses it (pulled from the
// reader); the help desk puts a second card in the reader and runs `card
// replace ID --reason lost --workstation W --reader R`: the old card is
// revoked (its certificates too) and the new card's issue, on the owner's
// behalf, waits for a CA manager (four eyes); `ca approve` and `card
// continue` finish it. `card show` shows the link on both cards, and
// OpenSC signs with the new card and its PIN.
func TestCLIReplaceCard(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	_, gusTok := s.user("gus")
	_, olgaTok := s.user("olga", lanyard.RoleOperator)
	_, carlTok := s.user("carl", lanyard.RoleCAManager)
	s.pair("gus")
	gus := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + gusTok}}
	olga := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + olgaTok}}
	carl := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + carlTok}}

	lost := newVCard(t)
	s.insert(lost)
	out, _ := gus.run(0, "card", "issue", "--user-pin", "24682468")
	m := regexp.MustCompile(`(?m)^Card (\d+): piv ` + lost.serial + `, issued, owner gus$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("card issue printed:\n%s", out)
	}
	oldID := m[1]
	s.pull(lost)

	// The owner may not replace their card for good: the help desk does.
	newCard := newVCard(t)
	s.insert(newCard)
	if _, errOut := gus.run(1, "card", "replace", oldID, "--reason", "lost", "--workstation", "e2e-pc", "--reader", s.reader); !strings.Contains(errOut, "not allowed to use Replace") {
		t.Errorf("card replace by the owner: %s", errOut)
	}
	if _, errOut := olga.run(1, "card", "replace", oldID, "--workstation", "e2e-pc", "--reader", s.reader); !strings.Contains(errOut, "--reason is required") {
		t.Errorf("card replace without a reason: %s", errOut)
	}

	const pin = "13571357"
	out, errOut := olga.run(3, "card", "replace", oldID, "--reason", "lost", "--workstation", "e2e-pc", "--reader", s.reader, "--user-pin", pin)
	t.Logf("lanyard card replace:\n%s%s", out, errOut)
	m = regexp.MustCompile(`(?m)^Card ` + oldID + ` \(` + lost.serial + `\) replaced by card (\d+): permanent replacement, pending$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("card replace printed:\n%s", out)
	}
	newID := m[1]
	for _, want := range []string{"Card " + oldID + ": piv " + lost.serial + ", revoked (lost), owner gus", "Card issue pending", "Card " + newID + ": piv " + newCard.serial + ", pending, owner gus"} {
		if !strings.Contains(out, want) {
			t.Errorf("card replace output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^\s+9a\s+smartcard-logon\s+revoked\s`).MatchString(out) {
		t.Errorf("the lost card's certificate is not shown revoked:\n%s", out)
	}

	// Four eyes: a CA manager approves, the help desk continues.
	pending, _ := carl.run(0, "ca", "pending")
	ids := regexp.MustCompile(`(?m)^(\d+)\s`).FindAllStringSubmatch(pending, -1)
	if len(ids) == 0 {
		t.Fatalf("ca pending lists nothing:\n%s", pending)
	}
	for _, id := range ids {
		carl.run(0, "ca", "approve", id[1], "--comment", "replacement of a lost card")
	}
	out, _ = olga.run(0, "card", "continue", newID, "--user-pin", pin)
	if !strings.Contains(out, "Card "+newID+": piv "+newCard.serial+", issued, owner gus") {
		t.Fatalf("card continue printed:\n%s", out)
	}

	out, _ = olga.run(0, "card", "show", oldID)
	if !strings.Contains(out, "revoked (lost)") || !strings.Contains(out, "Replaced by: card "+newID+" ("+newCard.serial+"), permanent replacement, active") {
		t.Errorf("card show of the old card:\n%s", out)
	}
	out, _ = gus.run(0, "card", "show", newID)
	if !strings.Contains(out, "Replaces: card "+oldID+" ("+lost.serial+"), permanent replacement, active") || !strings.Contains(out, "written") {
		t.Errorf("card show of the new card:\n%s", out)
	}
	// The new card holds the old card's certificate and signs with its
	// PIN through OpenSC.
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, s.cardBySerial(newCard.serial).ID, pin, "9a")
}
