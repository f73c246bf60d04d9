//go:build integration

package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestOfflineUnblockOnWorkstation (issue 16, item 5) is the whole offline
// unblock as a user at home lives it: the card's PIN is blocked with
// yubico-piv-tool; `lanyard agent unblock --offline` (no server, pcscd
// only) shows the card's challenge; the operator answers it with `lanyard
// card unblock-offline` after checking the secret answers; the tool takes
// the response and the new PIN; yubico-piv-tool then verifies the new PIN,
// and the old one is refused. The same challenge is not answered twice.
func TestOfflineUnblockOnWorkstation(t *testing.T) {
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Fatal("yubico-piv-tool is missing (scripts/card-deps.sh installs it; make test runs it)")
	}
	bin := lanyardBinary(t)
	s, _, res := issuedOnStack(t, "uma")
	ctx := context.Background()
	var owner *lanyard.User
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin("uma"); return }); err != nil {
		t.Fatal(err)
	}
	q := identity.SecretQuestions
	answers := []apiv1.SecretAnswer{{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: "Elm"}}
	in := identity.SecretAnswersInput{}
	for _, a := range answers {
		in.Answers = append(in.Answers, identity.SecretAnswerInput(a))
	}
	if _, err := s.srv.Service.Identity.SetMySecretAnswers(ctx, &lanyard.Principal{User: owner, Roles: owner.Roles, Session: true}, in); err != nil {
		t.Fatal(err)
	}
	_, opTok := s.user("otto", lanyard.RoleOperator)
	s.agent.stop(t) // the card is the tool's now; the workstation is offline

	for range 3 {
		_ = exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "00000000").Run()
	}
	if out, err := exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the PIN is not blocked:\n%s", out)
	}

	tool := exec.Command(bin, "agent", "unblock", "--offline", "--reader", s.reader)
	tool.Env = os.Environ()
	stdin, _ := tool.StdinPipe()
	stdout, _ := tool.StdoutPipe()
	var stderr strings.Builder
	tool.Stderr = &stderr
	if err := tool.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	out := bufio.NewReader(stdout)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the tool's standard error:\n%s", stderr.String())
		}
	})
	shown := readUntil(t, out, "Response: ")
	m := regexp.MustCompile(`\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b`).FindStringSubmatch(shown)
	if m == nil {
		t.Fatalf("the tool showed no challenge:\n%s", shown)
	}
	challenge := m[1]

	// The help desk: the operator's CLI, with the owner's answers.
	answersFile := t.TempDir() + "/answers.json"
	if err := os.WriteFile(answersFile, []byte(`[{"question":"`+q[0]+`","answer":"rex"},{"question":"`+q[1]+`","answer":"GHENT"},{"question":"`+q[2]+`","answer":"Elm"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + opTok}}
	id := itoa(res.Card.ID)
	_, errOut := cli.run(1, "card", "unblock-offline", id, "--challenge", challenge)
	if !strings.Contains(errOut, "secret questions") {
		t.Errorf("without the answers: %s", errOut)
	}
	said, _ := cli.run(0, "card", "unblock-offline", id, "--challenge", strings.ToLower(challenge), "--answers-file", answersFile)
	r := regexp.MustCompile(`Response for card \S+: ([0-9A-Z-]{19})`).FindStringSubmatch(said)
	if r == nil {
		t.Fatalf("card unblock-offline printed:\n%s", said)
	}
	// A typo first: refused by the tool, nothing sent to the card.
	typo := []byte(r[1])
	typo[0] = map[bool]byte{true: '7', false: '8'}[typo[0] == '8']
	io.WriteString(stdin, string(typo)+"\n")
	if got := readUntil(t, out, "Response: "); !strings.Contains(got, "mistyped") {
		t.Errorf("a mistyped response: %q", got)
	}
	io.WriteString(stdin, r[1]+"\n97531864\n97531864\n")
	var rest []byte
	go func() {
		rest, _ = io.ReadAll(out) // to the end: the tool exits
		done <- tool.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lanyard agent unblock --offline: %v\n%s\n%s", err, rest, stderr.String())
		}
		if !strings.Contains(string(rest), "PIN of card") {
			t.Errorf("the tool said:\n%s", rest)
		}
		if strings.Contains(string(rest)+stderr.String(), "97531864") {
			t.Error("the tool printed the new PIN")
		}
	case <-time.After(60 * time.Second):
		tool.Process.Kill()
		t.Fatal("the tool did not finish")
	}
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "97531864")
	if out, err := exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the old PIN still verifies:\n%s", out)
	}
	// The same challenge again gets the same response (the call may have
	// dropped); the card, which spent it, no longer takes it.
	said, _ = cli.run(0, "card", "unblock-offline", id, "--challenge", challenge, "--answers-file", answersFile)
	if !strings.Contains(said, r[1]) {
		t.Errorf("the same challenge again:\n%s", said)
	}
}

// readUntil reads r until it has read prompt, and returns what it read.
func readUntil(t *testing.T, r *bufio.Reader, prompt string) string {
	t.Helper()
	var b strings.Builder
	deadline := time.Now().Add(30 * time.Second)
	for !strings.HasSuffix(b.String(), prompt) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after:\n%s", prompt, b.String())
		}
		c, err := r.ReadByte()
		if err != nil {
			t.Fatalf("reading the tool's output: %v\n%s", err, b.String())
		}
		b.WriteByte(c)
	}
	return b.String()
}
