//go:build integration

package e2e

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestOfflineUnblockOnWorkstation (issue 16, item 5) is the whole offline
// unblock as a user at home lives it: the card's PIN is blocked with
// yubico-piv-tool; `lanyard agent unblock --offline` (no server, pcscd
// only) shows the card's challenge; the operator answers it with `lanyard
// card unblock-offline` after checking the secret answers; the tool takes
// the response and the new PIN; yubico-piv-tool then verifies the new PIN,
// and the old one is refused. The same challenge is not answered twice.
func TestOfflineUnblockOnWorkstation(t *testing.T) {
	bin := pivToolAndBinary(t)
	s, _, res := issuedOnStack(t, "uma")
	answersFile := ownerAnswersFile(t, s, "uma")
	_, opTok := s.user("otto", lanyard.RoleOperator)
	s.agent.stop(t) // the card is the tool's now; the workstation is offline
	blockPIN(t, s.reader)

	tool := startOfflineTool(t, bin, s.reader, t.TempDir())
	challenge := tool.challenge(t)

	// The help desk: the operator's CLI, with the owner's answers.
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
	io.WriteString(tool.stdin, string(typo)+"\n")
	if got := readUntil(t, tool.out, "Response: "); !strings.Contains(got, "mistyped") {
		t.Errorf("a mistyped response: %q", got)
	}
	io.WriteString(tool.stdin, r[1]+"\n97531864\n97531864\n")
	checkUnblocked(t, s.reader, tool.finish(t))
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
