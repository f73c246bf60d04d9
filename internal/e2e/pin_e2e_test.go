//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// issuedForPIN starts the stack with login's workstation paired and the
// card in it issued with PIN 24681357; it returns login's client and
// token and the card's ID.
func issuedForPIN(t *testing.T, login string) (*stack, *client.Client, string, int64) {
	t.Helper()
	s, _, u, tok, res := issueOnStack(t, login)
	return s, u, tok, res.Card.ID
}

// sealedPUK is the card's own PUK as the server holds it (opened here,
// never printed).
func (s *stack) sealedPUK(id int64) string {
	s.t.Helper()
	var card *lanyard.Card
	if err := s.srv.Store.View(context.Background(), func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(id); return }); err != nil {
		s.t.Fatal(err)
	}
	puk, err := s.srv.Sealer.Open(card.SealedPUK, cardops.CardPUKAAD(card.ID))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(puk)
}

// TestCLIChangeAndResetPIN: `lanyard card pin-change` through the whole
// stack (agent, pcscd, vpcd): a wrong current PIN says the tries left;
// the PIN is changed; wrong tries block it; `lanyard card pin-reset` with
// the owner's secret answers unblocks it with the card's own PUK, which is
// then rotated. OpenSC signs with the new PIN and not the old one, and
// yubico-piv-tool finds the old PUK refused.
func TestCLIChangeAndResetPIN(t *testing.T) {
	bin := lanyardBinary(t)
	s, u, tok, id := issuedForPIN(t, "hal")
	ctx := context.Background()
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
	card := itoa(id)

	_, errOut := cli.runStdin("00000000\n13572468\n13572468\n", 1, "card", "pin-change", card)
	if !strings.Contains(errOut, "2 tries left") {
		t.Fatalf("a wrong current PIN: %s", errOut)
	}
	cli.runStdin("24681357\n13572468\n13572468\n", 0, "card", "pin-change", card)
	_, errOut = cli.runStdin("13572468\n1\n1\n", 1, "card", "pin-change", card)
	if !strings.Contains(errOut, "must be") {
		t.Fatalf("a short new PIN: %s", errOut)
	}
	_, errOut = cli.runStdin("13572468\n11112222\n11113333\n", 1, "card", "pin-change", card)
	if !strings.Contains(errOut, "differ") {
		t.Fatalf("two different new PINs: %s", errOut)
	}
	for range 3 {
		cli.runStdin("00000000\n11112222\n11112222\n", 1, "card", "pin-change", card)
	}
	_, errOut = cli.runStdin("13572468\n11112222\n11112222\n", 1, "card", "pin-change", card)
	if !strings.Contains(errOut, "blocked") {
		t.Fatalf("a change of the blocked PIN: %s", errOut)
	}

	// Online unblock with the owner's secret answers.
	var answers []apiv1.SecretAnswerInput
	for i, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "answer " + itoa(int64(i))})
	}
	if _, err := u.Do(ctx, http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "answers.json")
	b, _ := json.Marshal(answers)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	oldPUK := s.sealedPUK(id)
	cli.runStdin("11223355\n11223355\n", 0, "card", "pin-reset", card, "--answers-file", file)
	newPUK := s.sealedPUK(id)
	if newPUK == oldPUK {
		t.Fatal("the PUK was not rotated")
	}

	s.agent.stop(t) // the card is the tools' now
	tk := openToken(t, s.reader)
	s.checkIssued(tk, id, "11223355", "9a")
	tk.signFails("9a", "13572468")
	if out, err := unblock(s.reader, oldPUK); err == nil {
		t.Fatalf("yubico-piv-tool unblocked the card with its old PUK:\n%s", out)
	}
	if out, err := unblock(s.reader, newPUK); err != nil {
		t.Fatalf("the card's new PUK does not unblock it: %v\n%s", err, out)
	}
}

// TestBrowserChangePIN: Self-Service's card page offers Change PIN for the
// owner's issued card; the dialog changes it on the card connected at the
// owner's workstation (a wrong current PIN says the tries left). Reset PIN
// then asks the owner's secret questions and resets it; the card takes
// the last PIN.
func TestBrowserChangePIN(t *testing.T) {
	s, u, _, id := issuedForPIN(t, "ida")
	b := mustBrowser(t, s.srv.URL)
	b.Login("ida", password)
	b.Visit("/cards/" + itoa(id))
	b.WaitFor("the Change PIN button", `!!document.querySelector('#pin-change-open')`)
	b.CheckAccessible("card with PIN actions")
	b.Run("open Change PIN", chromedp.Click("#pin-change-open"))
	b.WaitFor("the Change PIN dialog", `!!document.querySelector('#pin-change-old')`)
	const submit = `dialog[aria-labelledby="pin-change-title"] button[type=submit]`
	b.Run("a wrong current PIN", chromedp.SendKeys("#pin-change-old", "00000000"), chromedp.SendKeys("#pin-change-new", "13572468"),
		chromedp.SendKeys("#pin-change-again", "13572468"), chromedp.Click(submit))
	b.WaitFor("the tries left", `document.querySelector('dialog[aria-labelledby="pin-change-title"] .status').textContent.includes('2 tries left')`)
	b.Run("the right one", chromedp.SetValue("#pin-change-old", "24681357"), chromedp.Click(submit))
	b.WaitFor("the PIN changed", `!!document.querySelector('#pin-change-done')`)
	b.Shot("pin-changed")
	b.Run("close", chromedp.Click(`dialog[aria-labelledby="pin-change-title"] .buttons button`))

	// Reset PIN with the secret answers (set as the Secret questions page does).
	var answers []apiv1.SecretAnswerInput
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "the same answer"})
	}
	if _, err := u.Do(context.Background(), http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	b.WaitFor("the Reset PIN button", `!!document.querySelector('#pin-reset-open')`)
	b.Run("open Reset PIN", chromedp.Click("#pin-reset-open"))
	b.WaitFor("the Reset PIN dialog with the questions", `!!document.querySelector('#pin-reset-answer-2')`)
	b.Run("answers and the new PIN", chromedp.SendKeys("#pin-reset-answer-0", "the same answer"), chromedp.SendKeys("#pin-reset-answer-1", "the same answer"),
		chromedp.SendKeys("#pin-reset-answer-2", "the same answer"), chromedp.SendKeys("#pin-reset-new", "11223355"),
		chromedp.SendKeys("#pin-reset-again", "11223355"), chromedp.Click(`dialog[aria-labelledby="pin-reset-title"] button[type=submit]`))
	b.WaitFor("the PIN reset", `!!document.querySelector('#pin-reset-done')`)
	b.Shot("pin-reset")
	b.CheckConsole()

	s.agent.stop(t)
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "11223355")
}

// TestAgentUnblockAndPINChange: on the workstation without a browser.
// `lanyard agent unblock` asks the owner's secret questions (from the
// server, over the agent's mutually authenticated TLS), sends the answers
// and the new PIN, and the server resets the blocked PIN through the
// running agent's relay; `lanyard agent pin change` then changes it on
// the card in the local reader through PC/SC. yubico-piv-tool finds the
// last PIN on the card.
func TestAgentUnblockAndPINChange(t *testing.T) {
	bin := lanyardBinary(t)
	s, u, tok, id := issuedForPIN(t, "jan")
	ctx := context.Background()
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
	var answers []apiv1.SecretAnswerInput
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "the same answer"})
	}
	if _, err := u.Do(ctx, http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := u.Post(ctx, "/api/v1/cards/"+itoa(id)+"/pin-change", apiv1.PINChangeInput{OldPIN: "00000000", NewPIN: "11112222"}, nil); err == nil {
			t.Fatal("a wrong PIN changed the PIN")
		}
	}
	answersIn := strings.Repeat("the same answer\n", len(answers))
	_, errOut := cli.runStdin(strings.Repeat("wrong answer\n", len(answers))+"11223355\n11223355\n", 1, "agent", "unblock", "--state", s.agentDir)
	if !strings.Contains(errOut, "answers do not match") {
		t.Fatalf("wrong answers: %s", errOut)
	}
	_, errOut = cli.runStdin(answersIn+"11223355\n11223355\n", 0, "agent", "unblock", "--state", s.agentDir)
	if !strings.Contains(errOut, "is reset") {
		t.Fatalf("agent unblock said: %s", errOut)
	}

	s.agent.stop(t)
	_, errOut = cli.runStdin("00000000\n13572468\n13572468\n", 1, "agent", "pin", "change", "--reader", s.reader)
	if !strings.Contains(errOut, "2 tries left") {
		t.Fatalf("a wrong current PIN: %s", errOut)
	}
	cli.runStdin("11223355\n13572468\n13572468\n", 0, "agent", "pin", "change", "--reader", s.reader)
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "13572468")
}

// TestBrowserConsoleResetPIN: an operator resets a user's PIN from the
// console's card page; the policy says Validate answers, so the operator
// types the user's answers to the questions the user names. The card,
// still at the user's workstation, takes the new PIN.
func TestBrowserConsoleResetPIN(t *testing.T) {
	s, u, _, id := issuedForPIN(t, "kim")
	s.user("olga", lanyard.RoleOperator)
	var answers []apiv1.SecretAnswerInput
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "kim's answer"})
	}
	if _, err := u.Do(context.Background(), http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	b := mustBrowser(t, s.srv.URL)
	b.Login("olga", password)
	b.Visit("/console/cards/" + itoa(id))
	b.WaitFor("the Reset user PIN button", `!!document.querySelector('#pin-reset-open')`)
	if b.exists("#pin-change-open") {
		t.Error("the console offers Change PIN of someone else's card")
	}
	b.Run("open Reset user PIN", chromedp.Click("#pin-reset-open"))
	b.WaitFor("the Reset user PIN dialog", `!!document.querySelector('#pin-reset-new')`)
	b.CheckAccessible("console Reset user PIN")
	const submit = `dialog[aria-labelledby="pin-reset-title"] button[type=submit]`
	b.Run("no answers", chromedp.SendKeys("#pin-reset-new", "11223355"), chromedp.SendKeys("#pin-reset-again", "11223355"), chromedp.Click(submit))
	b.WaitFor("the answers asked", `document.querySelector('dialog[aria-labelledby="pin-reset-title"] .status').textContent.includes('secret questions')`)
	b.Run("kim's answers", chromedp.SendKeys("#pin-reset-answer-0", "kim's answer"), chromedp.SendKeys("#pin-reset-answer-1", "kim's answer"),
		chromedp.SendKeys("#pin-reset-answer-2", "kim's answer"), chromedp.Click(submit))
	b.WaitFor("the PIN reset", `!!document.querySelector('#pin-reset-done')`)
	b.Shot("console-pin-reset")
	b.CheckConsole()

	s.agent.stop(t)
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "11223355")
}
