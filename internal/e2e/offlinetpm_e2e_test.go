//go:build integration

package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestOfflineUnblockTPMOnWorkstation (issue 16, item 5) is the offline
// unblock of a TPM virtual card on the real stack: the agent's TPM (the
// reference simulator) holds the card, pcscd's vpcd slot shows it. The
// card is armed at issue; its PIN blocked with yubico-piv-tool, `lanyard
// agent unblock --offline` (pcscd only) shows the armed challenge, the
// same on every run; the operator's `lanyard card unblock-offline`
// answers it; the tool sets the new PIN, which the TPM checked;
// yubico-piv-tool verifies it, and the old PIN is refused; the tool then
// says the card holds no unused code. When the agent restarts (the card
// connects again) the server arms a new code: a new challenge.
func TestOfflineUnblockTPMOnWorkstation(t *testing.T) {
	bin := pivToolAndBinary(t)
	s := newStack(t)
	s.slots = []string{s.vpcd}
	seed := filepath.Join(t.TempDir(), "tpm.seed")
	s.newTPM = func() agent.TPM { return agenttpm.Open("simulator:"+seed, nil) }
	ctx := context.Background()
	if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/features", apiv1.Features{TPMVirtualCard: true}, &apiv1.Features{}); err != nil {
		t.Fatal(err)
	}
	allowVirtualCards(t, s.admin)
	user, _ := s.user("vera")
	s.pair("vera")
	s.waitState("reporting a usable TPM", func(st lanyard.WorkstationState) bool { return st.TPM != nil && st.TPM.Usable })
	var vc apiv1.ConnectedCard
	if _, err := user.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: s.ws, Kind: lanyard.KindTPMVirtualCard, Name: "Laptop"}, &vc); err != nil {
		t.Fatal(err)
	}
	var res apiv1.IssueCardResult
	if _, err := user.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: s.ws, Reader: vc.Reader}, UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	reader := vc.Reader
	var owner *lanyard.User
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin("vera"); return }); err != nil {
		t.Fatal(err)
	}
	q := identity.SecretQuestions
	in := identity.SecretAnswersInput{Answers: []identity.SecretAnswerInput{{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: "Elm"}}}
	if _, err := s.srv.Service.Identity.SetMySecretAnswers(ctx, &lanyard.Principal{User: owner, Roles: owner.Roles, Session: true}, in); err != nil {
		t.Fatal(err)
	}
	answersFile := filepath.Join(t.TempDir(), "answers.json")
	if err := os.WriteFile(answersFile, []byte(`[{"question":"`+q[0]+`","answer":"rex"},{"question":"`+q[1]+`","answer":"ghent"},{"question":"`+q[2]+`","answer":"elm"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, opTok := s.user("otto", lanyard.RoleOperator)
	helpDesk := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + opTok}}
	tool := &lanyardCLI{t: t, bin: bin}
	codeRE := regexp.MustCompile(`\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b`)

	for range 3 {
		_ = exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "00000000").Run()
	}
	if out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the PIN is not blocked:\n%s", out)
	}
	// The challenge, read without answering: the armed code's, fixed.
	challenge := func() string {
		t.Helper()
		said, _ := tool.runStdin("", 1, "agent", "unblock", "--offline", "--reader", reader)
		m := codeRE.FindStringSubmatch(said)
		if m == nil || !strings.Contains(said, "valid until used; 3 tries") {
			t.Fatalf("the tool showed:\n%s", said)
		}
		return m[1]
	}
	ch := challenge()
	if again := challenge(); again != ch {
		t.Fatalf("the armed challenge changed between runs: %s, then %s", ch, again)
	}
	said, _ := helpDesk.run(0, "card", "unblock-offline", itoa(res.Card.ID), "--challenge", ch, "--answers-file", answersFile)
	r := regexp.MustCompile(`Response for card \S+: ([0-9A-Z-]{19})`).FindStringSubmatch(said)
	if r == nil {
		t.Fatalf("card unblock-offline printed:\n%s", said)
	}
	said, errOut := tool.runStdin(r[1]+"\n97531864\n97531864\n", 0, "agent", "unblock", "--offline", "--reader", reader)
	if !strings.Contains(said, "PIN of card") || strings.Contains(said+errOut, "97531864") {
		t.Fatalf("the tool said:\n%s\n%s", said, errOut)
	}
	runTool(t, "yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "97531864")
	if out, err := exec.Command("yubico-piv-tool", "-r", reader, "-a", "verify-pin", "-P", "24681357").CombinedOutput(); err == nil {
		t.Fatalf("the old PIN still verifies:\n%s", out)
	}
	// The code is used: the card shows none until it connects again.
	if _, errOut := tool.run(1, "agent", "unblock", "--offline", "--forgot", "--reader", reader); !strings.Contains(errOut, "no unused unblock code") {
		t.Fatalf("the tool after the use: %s", errOut)
	}

	// The card connects again (the agent restarts): a new code.
	if err := s.agent.stop(t); err != nil {
		t.Fatal(err)
	}
	waitPortEmpty(t, s.port)
	s.restartAgent()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var a *lanyard.OfflineArm
		_ = s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { a, err = tx.OfflineArmOf(res.Card.ID); return })
		if a != nil && a.Counter == 2 && a.State == lanyard.OfflineArmed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the card was not armed again at its connection: %+v", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	said, _ = tool.runStdin("", 1, "agent", "unblock", "--offline", "--forgot", "--reader", reader)
	if m := codeRE.FindStringSubmatch(said); m == nil || m[1] == ch {
		t.Fatalf("after re-arming the tool showed:\n%s", said)
	}
}
