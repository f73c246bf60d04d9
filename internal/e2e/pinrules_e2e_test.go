//go:build integration

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestAgentPINRulesFromPolicy (review L6): the owner's policy allows PINs
// of exactly 8 characters. The agent keeps that rule for the card at its
// connection; `lanyard agent pin change` refuses a 7-character PIN —
// with the server reachable (its rule) and, from a copy of the agent's
// state pointing at no server, from the rule kept — and `lanyard agent
// unblock --offline` asks again for a 7-character PIN and sets the 8-
// character one. yubico-piv-tool finds the PINs the tools set, and not
// the refused ones.
func TestAgentPINRulesFromPolicy(t *testing.T) {
	bin := pivToolAndBinary(t)
	s, _, tok, id := issuedForPIN(t, "lee") // PIN 24681357
	var card *lanyard.Card
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(id); return }); err != nil {
		t.Fatal(err)
	}
	s.setPolicy(func(set map[string]any) {
		iss := section(set, "issuance")
		iss["initialize_card"] = true
		init := section(iss, "initialization")
		init["pin_min_length"], init["pin_max_length"] = 8, 8
		section(section(set, "workflow"), "administrator_permissions")["validate_answers"] = false
	})
	// The agent learns the rule at its next connection.
	s.agent.stop(t)
	s.startAgent()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, ok, err := agent.CachedPINRule(s.agentDir, card.Serial)
		if err == nil && ok && r.MinLength == 8 && r.MaxLength == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent kept no 8-character rule for card %s: %+v %v %v", card.Serial, r, ok, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.agent.stop(t) // the card is the tools' now
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}

	// Online: the server's rule.
	_, errOut := cli.runStdin("24681357\n1357246\n1357246\n", 1, "agent", "pin", "change", "--reader", s.reader, "--state", s.agentDir)
	if !strings.Contains(errOut, "8 to 8") {
		t.Errorf("a 7-character PIN, server reachable: %s", errOut)
	}
	// Offline: the rule kept, from a copy of the state with no server.
	offline := offlineCopy(t, s.agentDir)
	_, errOut = cli.runStdin("24681357\n1357246\n1357246\n", 1, "agent", "pin", "change", "--reader", s.reader, "--state", offline)
	if !strings.Contains(errOut, "8 to 8") {
		t.Errorf("a 7-character PIN, server unreachable: %s", errOut)
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "24681357")
	cli.runStdin("24681357\n13572468\n13572468\n", 0, "agent", "pin", "change", "--reader", s.reader, "--state", offline)
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "13572468")

	// Offline unblock: the rule kept.
	for range 3 {
		_ = exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "00000000").Run()
	}
	_, opTok := s.user("oona", lanyard.RoleOperator)
	op := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + opTok}}
	tool := exec.Command(bin, "agent", "unblock", "--offline", "--reader", s.reader, "--state", offline)
	stdin, _ := tool.StdinPipe()
	stdout, _ := tool.StdoutPipe()
	var stderr strings.Builder
	tool.Stderr = &stderr
	if err := tool.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tool.Process.Kill() })
	out := bufio.NewReader(stdout)
	m := regexp.MustCompile(`\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b`).FindStringSubmatch(readUntil(t, out, "Response: "))
	if m == nil {
		t.Fatal("the tool showed no challenge")
	}
	said, _ := op.run(0, "card", "unblock-offline", itoa(id), "--challenge", m[1])
	r := regexp.MustCompile(`Response for card \S+: ([0-9A-Z-]{19})`).FindStringSubmatch(said)
	if r == nil {
		t.Fatalf("card unblock-offline printed:\n%s", said)
	}
	io.WriteString(stdin, r[1]+"\n1357246\n1357246\n")
	readUntil(t, out, "New PIN: ")
	if got := readUntil(t, out, "New PIN: "); !strings.Contains(got, "8 to 8 characters") {
		t.Errorf("a 7-character PIN offline: %q", got)
	}
	io.WriteString(stdin, "97531864\n97531864\n")
	rest, _ := io.ReadAll(out)
	if err := tool.Wait(); err != nil {
		t.Fatalf("lanyard agent unblock --offline: %v\n%s\n%s", err, rest, stderr.String())
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "97531864")
}

// offlineCopy copies the agent's state directory with its server changed
// to an address nothing answers on: the workstation without a network.
func offlineCopy(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // the status socket
		}
		if e.Name() == "state.json" {
			var st map[string]any
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatal(err)
			}
			st["server"] = "https://127.0.0.1:1"
			if b, err = json.Marshal(st); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}
