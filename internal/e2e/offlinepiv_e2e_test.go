//go:build integration

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// TestOfflineUnblockStandardPIVOnWorkstation (issue 16, item 5) is the
// offline unblock of a standard PIV card (the emulator without Lanyard's
// instructions, as a YubiKey) through pcscd: the PIN is blocked with
// yubico-piv-tool; `lanyard agent unblock --offline` makes the challenge
// (and shows the same one when run again); a response for another
// challenge is refused by the tool before any PUK try is spent; the
// operator's `lanyard card unblock-offline` answers the real one with the
// card's PUK; the tool unblocks the card with it and the new PIN;
// yubico-piv-tool verifies the new PIN and refuses the old. With the
// agent's escrow key the tool changes the released PUK at once (the card
// refuses it right away) and the agent uploads the new one before it
// connects; without, the server rotates the released PUK when the card
// next connects. Either way the card then refuses the released PUK
// (yubico-piv-tool -a unblock-pin) and takes the one the server holds.
func TestOfflineUnblockStandardPIVOnWorkstation(t *testing.T) {
	t.Run("rotated at the next connection", func(t *testing.T) { offlineUnblockStandardPIV(t, false) })
	t.Run("rolled forward by the tool", func(t *testing.T) { offlineUnblockStandardPIV(t, true) })
}

// offlineUnblockStandardPIV runs the offline unblock of a standard card,
// the tool finding the agent's escrow key (escrow) or not.
func offlineUnblockStandardPIV(t *testing.T, escrow bool) {
	bin := pivToolAndBinary(t)
	s, c, _, _, res := issueOnStack(t, "pia", emu.WithoutLanyardExtensions())
	answersFile := ownerAnswersFile(t, s, "pia")
	_, opTok := s.user("otto", lanyard.RoleOperator)
	s.agent.stop(t) // the workstation is offline
	blockPIN(t, s.reader)
	cache := t.TempDir()
	state := t.TempDir() // no agent here: no escrow key
	if escrow {
		state = s.agentDir
	}

	// A first run shows the challenge; the user closes it (Ctrl-C) and
	// runs it again: the same challenge.
	first := startOfflineTool(t, bin, s.reader, cache, "--state", state)
	challenge := first.challenge(t)
	first.kill()
	tool := startOfflineTool(t, bin, s.reader, cache, "--state", state)
	if again := tool.challenge(t); again != challenge {
		t.Fatalf("the second run shows %s, the first showed %s", again, challenge)
	}

	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + opTok}}
	id := itoa(res.Card.ID)
	answer := func(ch string) string {
		said, _ := cli.run(0, "card", "unblock-offline", id, "--challenge", ch, "--answers-file", answersFile)
		r := regexp.MustCompile(`Response for card \S+: ([0-9A-Z-]{19})`).FindStringSubmatch(said)
		if r == nil || !strings.Contains(said, "standard PIV card") {
			t.Fatalf("card unblock-offline printed:\n%s", said)
		}
		return r[1]
	}
	// A response for another challenge of the same card: refused by the
	// tool, the card's PUK counter untouched.
	p, err := unblockcode.Decode(unblockcode.Challenge, challenge)
	if err != nil {
		t.Fatal(err)
	}
	f := unblockcode.UnpackChallenge(p)
	f.Nonce ^= 1
	other, _ := f.Pack()
	io.WriteString(tool.stdin, answer(unblockcode.Encode(unblockcode.Challenge, other))+"\n")
	if got := readUntil(t, tool.out, "Response: "); !strings.Contains(got, "not for this card or challenge") {
		t.Errorf("a response for another challenge: %q", got)
	}
	pukTriesFull(t, c)

	io.WriteString(tool.stdin, answer(challenge)+"\n97531864\n97531864\n")
	released := sealedPUK(t, s, res.Card.ID)
	rest := tool.finish(t)
	said := map[bool]string{false: "stays valid", true: "nobody has seen"}[escrow]
	if !strings.Contains(rest, said) {
		t.Errorf("the tool said:\n%s", rest)
	}
	checkUnblocked(t, s.reader, rest)
	pukTriesFull(t, c)
	if escrow { // this refusal costs a PUK try, the card's next one restores them
		if out, err := unblock(s.reader, released); err == nil {
			t.Fatalf("the card still takes the released PUK after the tool's roll-forward:\n%s", out)
		}
	}

	// The card connects again: the server holds the escrowed PUK, or
	// rotates the released one.
	s.restartAgent()
	s.pull(c)
	s.insert(c)
	deadline := time.Now().Add(20 * time.Second)
	for sealedPUK(t, s, res.Card.ID) == released || !cardRecordOf(t, s, res.Card.ID).PUKReleasedAt.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("the server does not hold a new PUK within 20 s of the card's connection")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.agent.stop(t)
	if out, err := unblock(s.reader, released); err == nil {
		t.Fatalf("the card still takes the released PUK:\n%s", out)
	}
	if out, err := unblock(s.reader, sealedPUK(t, s, res.Card.ID)); err != nil {
		t.Fatalf("the card refuses the PUK the server holds:\n%s", out)
	}
	events, err := s.srv.Service.Audit.ListAudit(context.Background(), lanyard.AuditFilter{Action: map[bool]string{false: "card.puk.rotate", true: "card.puk.escrow"}[escrow]})
	if err != nil || len(events) != 1 {
		t.Errorf("audit: %d events, %v", len(events), err)
	}
}

// cardRecordOf is card id's record.
func cardRecordOf(t *testing.T, s *stack, id int64) *lanyard.Card {
	t.Helper()
	var c *lanyard.Card
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { c, err = tx.CardByID(id); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkUnblocked checks what the tool said when it finished (rest) and
// that the card in reader now takes the new PIN 97531864, not the old one.
func checkUnblocked(t *testing.T, reader, rest string) {
	t.Helper()
	if !strings.Contains(rest, "PIN of card") {
		t.Errorf("the tool said:\n%s", rest)
	}
	if strings.Contains(rest, "97531864") {
		t.Error("the tool printed the new PIN")
	}
	runTool(t, "yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "97531864")
	if out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the old PIN still verifies:\n%s", out)
	}
}

// blockPIN blocks the PIN of the card in reader with wrong VERIFYs.
func blockPIN(t *testing.T, reader string) {
	t.Helper()
	for range 3 {
		_ = exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "00000000").Run()
	}
	if out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the PIN is not blocked:\n%s", out)
	}
}

// pukTriesFull checks that the card has all its PUK tries.
func pukTriesFull(t *testing.T, c *vcard) {
	t.Helper()
	pc, err := piv.New(c.Card.Transport(), piv.Config{Rand: rand.Reader})
	if err == nil {
		_, err = pc.Select(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	md, err := pc.Metadata(context.Background(), pivspec.KeyPUK)
	if err != nil || md.RetriesLeft != md.Retries {
		t.Fatalf("PUK tries: %d of %d, %v", md.RetriesLeft, md.Retries, err)
	}
}

// sealedPUK is card id's PUK as the server holds it.
func sealedPUK(t *testing.T, s *stack, id int64) string {
	t.Helper()
	var puk []byte
	err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) error {
		card, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		puk, err = s.srv.Sealer.Open(card.SealedPUK, cardops.CardPUKAAD(card.ID))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(puk)
}

// ownerAnswersFile sets login's secret answers and returns a file with
// them as `lanyard card unblock-offline --answers-file` reads them (case
// as a person on the phone says them).
func ownerAnswersFile(t *testing.T, s *stack, login string) string {
	t.Helper()
	ctx := context.Background()
	var owner *lanyard.User
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin(login); return }); err != nil {
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
	f := t.TempDir() + "/answers.json"
	if err := os.WriteFile(f, []byte(`[{"question":"`+q[0]+`","answer":"rex"},{"question":"`+q[1]+`","answer":"GHENT"},{"question":"`+q[2]+`","answer":"Elm"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// offlineTool is a running `lanyard agent unblock --offline`.
type offlineTool struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr *strings.Builder
}

// startOfflineTool runs `lanyard agent unblock --offline` on reader, with
// cache as the user's cache directory (where it keeps a standard card's
// challenge) and args.
func startOfflineTool(t *testing.T, bin, reader, cache string, args ...string) *offlineTool {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"agent", "unblock", "--offline", "--reader", reader}, args...)...)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cache)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	tool := &offlineTool{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout), stderr: &strings.Builder{}}
	cmd.Stderr = tool.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tool.kill()
		if t.Failed() {
			t.Logf("the tool's standard error:\n%s", tool.stderr.String())
		}
	})
	return tool
}

// challenge reads up to the response prompt and returns the challenge
// shown.
func (o *offlineTool) challenge(t *testing.T) string {
	t.Helper()
	shown := readUntil(t, o.out, "Response: ")
	m := regexp.MustCompile(`\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b`).FindStringSubmatch(shown)
	if m == nil {
		t.Fatalf("the tool showed no challenge:\n%s", shown)
	}
	return m[1]
}

func (o *offlineTool) kill() {
	if o.cmd.ProcessState == nil {
		_ = o.cmd.Process.Kill()
		_ = o.cmd.Wait()
	}
}

// finish reads the tool's output to its end and checks it succeeded.
func (o *offlineTool) finish(t *testing.T) string {
	t.Helper()
	done := make(chan error, 1)
	var rest []byte
	go func() {
		rest, _ = io.ReadAll(o.out) // to the end: the tool exits
		done <- o.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("lanyard agent unblock --offline: %v\n%s\n%s", err, rest, o.stderr.String())
		}
	case <-time.After(60 * time.Second):
		o.cmd.Process.Kill()
		t.Fatal("the tool did not finish")
	}
	return string(rest) + o.stderr.String()
}
