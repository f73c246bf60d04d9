//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// The card state operations (docs/lifecycle.md: change PIN, reset PIN
// online, disable, enable, revoke with a reason, clear, withdraw) on the
// card kinds that are not a smart card in a reader: a TPM virtual smart
// card (the workstation agent's TPM, the reference simulator, its card
// in the agent's vpcd slot) and an AirCard (hosted by an AirCard
// service, bridged into the workstation's vpcd slot). PIV smart cards
// have theirs in cardstates_browser_test.go, pin_e2e_test.go and
// cmd/lanyard.

// virtualKinds are the card kinds these tests run on, with the name
// `lanyard card issue --create` takes.
var virtualKinds = []struct {
	kind   lanyard.CardKind
	create string
}{
	{lanyard.KindTPMVirtualCard, "tpm"},
	{lanyard.KindAirCard, "aircard"},
}

// virtualStack starts the stack with login's workstation paired and able
// to get a card of kind: for a TPM virtual smart card the agent has the
// TPM simulator and the policy allows the kind; for an AirCard an AirCard
// service is paired and the policy allows Issue AirCard. Virtual cards go
// to the stack's vpcd slot.
func virtualStack(t *testing.T, kind lanyard.CardKind, login string) (*stack, *client.Client, string) {
	t.Helper()
	s := newStack(t)
	s.slots = []string{s.vpcd}
	u, tok := s.user(login)
	switch kind {
	case lanyard.KindTPMVirtualCard:
		seed := filepath.Join(t.TempDir(), "tpm.seed")
		s.newTPM = func() agent.TPM { return agenttpm.Open("simulator:"+seed, nil) }
		var f apiv1.Features
		if _, err := s.admin.Do(context.Background(), http.MethodPut, "/api/v1/features", apiv1.Features{TPMVirtualCard: true}, &f); err != nil {
			t.Fatal(err)
		}
		allowVirtualCards(t, s.admin)
		s.pair(login)
		s.waitState("reporting a usable TPM", func(st lanyard.WorkstationState) bool { return st.TPM != nil && st.TPM.Usable })
	case lanyard.KindAirCard:
		s.setPolicy(allowAirCards)
		s.startAirService(t.TempDir(), "aircard-service", true)
		s.pair(login)
	default:
		t.Fatalf("no virtual stack for %s", kind)
	}
	return s, u, tok
}

// atComputer waits, for an AirCard, until it is in a reader of the
// stack's workstation (present) or in none: a disabled or revoked AirCard
// leaves the computers it is connected to, an enabled one comes back
// (other kinds stay where they are).
func (s *stack) atComputer(kind lanyard.CardKind, serial string, present bool) {
	s.t.Helper()
	if kind == lanyard.KindAirCard {
		s.waitAirCard(s.ws, serial, present)
	}
}

// checkCleared checks with OpenSC that the cleared card in reader holds
// no certificate. An AirCard is checked at its AirCard service only,
// which is not in pcscd: its own tests read it there.
func checkCleared(t *testing.T, kind lanyard.CardKind, reader string) {
	t.Helper()
	if kind == lanyard.KindAirCard {
		return
	}
	if certs := openToken(t, reader).certs(); len(certs) != 0 {
		t.Errorf("the cleared card still holds certificates in %v", certs)
	}
}

// setAnswers sets the user's secret answers through the API, as the
// Secret questions page does, and writes them to a file for
// `lanyard card pin-reset --answers-file`.
func setAnswers(t *testing.T, u *client.Client, answer string) (file string) {
	t.Helper()
	var answers []apiv1.SecretAnswerInput
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: answer})
	}
	if _, err := u.Do(context.Background(), http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "answers.json")
	b, _ := json.Marshal(answers)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestCLICardStatesVirtual runs every state operation through the CLI on
// a TPM virtual smart card and an AirCard, created and issued with
// `lanyard card issue --create`: pin-change (a wrong current PIN says
// the tries left; wrong tries block the PIN), pin-reset with the owner's
// secret answers (the reset PIN then changes on the card), disable
// (certificate on hold), enable, revoke as lost (certificate revoked),
// clear by the owner with the card connected (it stays revoked, and
// OpenSC finds no certificate on it), and withdraw to stock by an
// operator.
func TestCLICardStatesVirtual(t *testing.T) {
	bin := lanyardBinary(t)
	for _, k := range virtualKinds {
		t.Run(string(k.kind), func(t *testing.T) {
			s, u, tok := virtualStack(t, k.kind, "vic")
			_, olgaToken := s.user("olga", lanyard.RoleOperator)
			user := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
			olga := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + olgaToken}}

			out, _ := user.runStdin("", 0, "card", "issue", "--create", k.create, "--name", "Work", "--user-pin", "24681357")
			m := regexp.MustCompile(`(?m)^Card (\d+): `).FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "issued") {
				t.Fatalf("card issue --create %s printed:\n%s", k.create, out)
			}
			id := m[1]
			v := s.cardView(mustAtoi(t, id))
			if v.Kind != k.kind || v.State != lanyard.CardIssued {
				t.Fatalf("the new card is a %s, %s", v.Kind, v.State)
			}

			// Change PIN; wrong tries block it.
			if _, errOut := user.runStdin("00000000\n13572468\n13572468\n", 1, "card", "pin-change", id); !strings.Contains(errOut, "2 tries left") {
				t.Fatalf("a wrong current PIN: %s", errOut)
			}
			user.runStdin("24681357\n13572468\n13572468\n", 0, "card", "pin-change", id)
			var errOut string
			for range 3 {
				_, errOut = user.runStdin("00000000\n11112222\n11112222\n", 1, "card", "pin-change", id)
			}
			if !strings.Contains(errOut, "now blocked") {
				t.Fatalf("the third wrong PIN: %s", errOut)
			}
			if _, errOut := user.runStdin("13572468\n11112222\n11112222\n", 1, "card", "pin-change", id); !strings.Contains(errOut, "blocked") {
				t.Fatalf("a change of the blocked PIN: %s", errOut)
			}

			// Online unblock with the secret answers; the card takes the new PIN.
			file := setAnswers(t, u, "vic's answer")
			if _, errOut := user.runStdin("11223355\n11223355\n", 0, "card", "pin-reset", id, "--answers-file", file); !strings.Contains(errOut, "PIN reset") {
				t.Fatalf("pin-reset said: %s", errOut)
			}
			user.runStdin("11223355\n24681357\n24681357\n", 0, "card", "pin-change", id)

			// Disable, enable, revoke as lost.
			if out, _ := user.runStdin("", 0, "card", "disable", id); !strings.Contains(out, "disabled") || !strings.Contains(out, "on hold") {
				t.Fatalf("card disable:\n%s", out)
			}
			if v := s.cardView(mustAtoi(t, id)); v.State != lanyard.CardDisabled || !v.Certificates[0].OnHold {
				t.Fatalf("after disable: %s, on hold %v", v.State, v.Certificates[0].OnHold)
			}
			s.atComputer(k.kind, v.Serial, false)
			if out, _ := user.runStdin("", 0, "card", "enable", id); !strings.Contains(out, "issued") || strings.Contains(out, "on hold") {
				t.Fatalf("card enable:\n%s", out)
			}
			s.atComputer(k.kind, v.Serial, true)
			if out, _ := olga.runStdin("", 0, "card", "revoke", id, "--reason", "lost", "--comment", "reported by phone"); !strings.Contains(out, "revoked (lost)") {
				t.Fatalf("card revoke:\n%s", out)
			}
			v = s.cardView(mustAtoi(t, id))
			if v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost || v.Certificates[0].Status != lanyard.CertRevoked {
				t.Fatalf("after revoke: %s %q %s", v.State, v.RevocationReason, v.Certificates[0].Status)
			}

			s.atComputer(k.kind, v.Serial, false)

			// Clear (the owner, the card connected), then withdraw to stock.
			reader := s.connected(u, v.Serial).Reader
			if out, _ := user.runStdin("", 0, "card", "clear", id); !strings.Contains(out, "revoked (lost)") || strings.Contains(out, " written ") {
				t.Fatalf("card clear:\n%s", out)
			}
			checkCleared(t, k.kind, reader)
			if _, errOut := user.runStdin("", 1, "card", "withdraw", id); !strings.Contains(errOut, "not allowed") {
				t.Fatalf("card withdraw by the owner: %s", errOut)
			}
			out, _ = olga.runStdin("", 0, "card", "withdraw", id, "--to", "stock")
			if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasSuffix(first, ", clean, owner ") {
				t.Fatalf("card withdraw --to stock:\n%s", out)
			}
			if v := s.cardView(mustAtoi(t, id)); v.State != lanyard.CardClean || v.OwnerID != 0 {
				t.Fatalf("after withdraw: %s, owner %d", v.State, v.OwnerID)
			}
		})
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBrowserCardStatesVirtual runs every state operation in Chromium on
// a TPM virtual smart card and an AirCard, issued through the API (their
// creation in Self-Service is tested in tpm_e2e_test.go and
// aircard_e2e_test.go): the owner changes the PIN (a wrong current PIN
// says the tries left) and resets it with their secret answers from the
// card's page, disables and enables the card there; operator olga revokes
// it as lost from the console's card menu; the owner clears it from its
// page (the card connected) and olga withdraws it to stock. OpenSC finds
// no certificate on the cleared card.
func TestBrowserCardStatesVirtual(t *testing.T) {
	for _, k := range virtualKinds {
		t.Run(string(k.kind), func(t *testing.T) {
			s, u, _ := virtualStack(t, k.kind, "val")
			s.user("olga", lanyard.RoleOperator)
			ctx := context.Background()
			var cc apiv1.ConnectedCard
			if _, err := u.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: s.ws, Kind: k.kind, Name: "Work"}, &cc); err != nil {
				t.Fatal(err)
			}
			var res apiv1.IssueCardResult
			if _, err := u.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}, UserPIN: "24681357"}, &res); err != nil {
				t.Fatal(err)
			}
			id := itoa(res.Card.ID)
			shot := "states-" + k.create + "-"

			b := mustBrowser(t, s.srv.URL)
			b.Login("val", password)
			b.Visit("/cards/" + id)
			b.changePIN("24681357", "13572468")
			b.Shot(shot + "01-pin-changed")
			setAnswers(t, u, "val's answer")
			b.resetPIN("val's answer", "11223355")
			b.Shot(shot + "02-pin-reset")
			b.disableEnable(id, func(enabled bool) { s.atComputer(k.kind, res.Card.Serial, enabled) })
			if v := s.cardView(res.Card.ID); v.State != lanyard.CardIssued || v.Certificates[0].OnHold {
				t.Fatalf("after Disable and Enable in the browser: %s, certificate on hold %v", v.State, v.Certificates[0].OnHold)
			}
			b.Shot(shot + "03-enabled")

			ob := mustBrowser(t, s.srv.URL)
			ob.Login("olga", password)
			ob.consoleRevoke(id, res.Card.Serial, "lost")
			ob.Shot(shot + "04-revoked")
			if v := s.cardView(res.Card.ID); v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost || v.Certificates[0].Status != lanyard.CertRevoked {
				t.Fatalf("after Revoke in the console: %s %q %s", v.State, v.RevocationReason, v.Certificates[0].Status)
			}
			s.atComputer(k.kind, res.Card.Serial, false)
			b.Visit("/cards/" + id)
			b.clearCard()
			b.Shot(shot + "05-cleared")
			checkCleared(t, k.kind, s.connected(u, res.Card.Serial).Reader)
			ob.consoleWithdraw(id, res.Card.Serial)
			if v := s.cardView(res.Card.ID); v.State != lanyard.CardClean || v.OwnerID != 0 {
				t.Fatalf("after Withdraw: %s owner %d", v.State, v.OwnerID)
			}
			b.CheckConsole()
			ob.CheckConsole()
		})
	}
}

// The steps of the state operations in the pages, shared by the tests of
// every card kind.

// changePIN, on the owner's card page, opens Change PIN, gives a wrong
// current PIN (the dialog says the tries left), then the right one and
// the new PIN, and closes the dialog.
func (b *browser) changePIN(old, pin string) {
	b.t.Helper()
	b.WaitFor("the Change PIN button", `!!document.querySelector('#pin-change-open')`)
	b.Run("open Change PIN", chromedp.Click("#pin-change-open"))
	b.WaitFor("the Change PIN dialog", `!!document.querySelector('#pin-change-old')`)
	const submit = `dialog[aria-labelledby="pin-change-title"] button[type=submit]`
	b.Run("a wrong current PIN", chromedp.SendKeys("#pin-change-old", "00000000"), chromedp.SendKeys("#pin-change-new", pin),
		chromedp.SendKeys("#pin-change-again", pin), chromedp.Click(submit))
	b.WaitFor("the tries left", `document.querySelector('dialog[aria-labelledby="pin-change-title"] .status').textContent.includes('2 tries left')`)
	b.Run("the right one", chromedp.SetValue("#pin-change-old", old), chromedp.Click(submit))
	b.WaitFor("the PIN changed", `!!document.querySelector('#pin-change-done')`)
	b.Run("close", chromedp.Click(`dialog[aria-labelledby="pin-change-title"] .buttons button`))
}

// resetPIN, on the owner's card page, opens Reset PIN, answers the three
// secret questions with answer and sets pin.
func (b *browser) resetPIN(answer, pin string) {
	b.t.Helper()
	b.WaitFor("the Reset PIN button", `!!document.querySelector('#pin-reset-open')`)
	b.Run("open Reset PIN", chromedp.Click("#pin-reset-open"))
	b.WaitFor("the Reset PIN dialog with the questions", `!!document.querySelector('#pin-reset-answer-2')`)
	b.Run("answers and the new PIN", chromedp.SendKeys("#pin-reset-answer-0", answer), chromedp.SendKeys("#pin-reset-answer-1", answer),
		chromedp.SendKeys("#pin-reset-answer-2", answer), chromedp.SendKeys("#pin-reset-new", pin),
		chromedp.SendKeys("#pin-reset-again", pin), chromedp.Click(`dialog[aria-labelledby="pin-reset-title"] button[type=submit]`))
	b.WaitFor("the PIN reset", `!!document.querySelector('#pin-reset-done')`)
}

// disableEnable, on the card page of issued card id, disables it
// (confirmed) and enables it again, each button offered only in its
// state; after each it calls then (enabled: after Enable).
func (b *browser) disableEnable(id string, then func(enabled bool)) {
	b.t.Helper()
	b.Visit("/cards/" + id)
	b.WaitFor("the Disable card button", `document.querySelector('#card-disable-`+id+`')`)
	if b.exists("#card-enable-"+id) || b.exists("#card-withdraw-"+id) {
		b.t.Error("an issued card's page offers Enable or Withdraw")
	}
	b.Run("Disable card", chromedp.Click(chromedp.CSS("#card-disable-"+id)))
	b.WaitFor("the confirmation", `document.querySelector('dialog[open] button.danger')`)
	b.Run("confirm", chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
	b.WaitFor("the card disabled", `document.querySelector('#card-enable-`+id+`') && document.querySelector('#card-status').textContent.includes('The card is disabled')`)
	if b.exists("#card-disable-" + id) {
		b.t.Error("a disabled card's page still offers Disable")
	}
	then(false)
	b.Run("Enable card", chromedp.Click(chromedp.CSS("#card-enable-"+id)))
	b.WaitFor("the card enabled", `document.querySelector('#card-disable-`+id+`') && document.querySelector('#card-status').textContent.includes('The card is enabled')`)
	then(true)
}

// consoleMenu, as staff, opens the card menu of card serial in the
// console's card list and clicks its entry entry (a selector).
func (b *browser) consoleMenu(serial, entry string) {
	b.t.Helper()
	b.Visit("/console/cards")
	b.WaitFor("the card menu's entry "+entry, `document.querySelector(`+uitest.JSString(entry)+`)`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`#cards summary[aria-label="Card menu for `+serial+`"]`)))
	b.Run("choose "+entry, chromedp.Click(chromedp.CSS(entry)))
}

// consoleRevoke, as staff, revokes card id (serial) for reason from the
// console's card menu.
func (b *browser) consoleRevoke(id, serial, reason string) {
	b.t.Helper()
	b.consoleMenu(serial, "#card-revoke-"+id)
	b.WaitFor("the Revoke card dialog", `document.querySelector('#revoke-reason')`)
	b.Run("choose the reason and revoke",
		chromedp.SetValue(chromedp.CSS("#revoke-reason"), reason),
		chromedp.SendKeys(chromedp.CSS("#revoke-comment"), "reported by phone"),
		chromedp.Click(chromedp.CSS("#revoke-submit")))
	b.WaitFor("the card revoked", `document.querySelector('#cards-status').textContent.includes('The card is revoked')`)
}

// clearCard, on the owner's page of a revoked card, clears it.
func (b *browser) clearCard() {
	b.t.Helper()
	b.WaitFor("the Clear card button", `document.querySelector('#card-clear')`)
	b.Run("Clear card", chromedp.Click(chromedp.CSS("#card-clear")))
	b.WaitFor("the Clear card dialog", `document.querySelector('#clear-hint')`)
	b.Run("clear", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the card cleared", `document.querySelector('dialog[open] .success') || document.querySelector('dialog[open] .status.error, dialog[open] .error')`)
	if got := b.Text("dialog[open]"); !strings.Contains(got, "The card is cleared") {
		b.t.Fatalf("the Clear card dialog says %q", got)
	}
}

// consoleWithdraw, as staff, withdraws cleared card id (serial) to stock
// from the console's card menu.
func (b *browser) consoleWithdraw(id, serial string) {
	b.t.Helper()
	b.consoleMenu(serial, "#card-withdraw-"+id)
	b.WaitFor("the Withdraw card dialog", `document.querySelector('#withdraw-stock')`)
	b.Run("withdraw to stock", chromedp.Click(chromedp.CSS("#withdraw-submit")))
	b.WaitFor("the card in stock", `document.querySelector('#cards-status').textContent.includes('The card is back in stock')`)
}

// TestCLIIssueAirCardCreatedBefore: an AirCard created and not issued yet
// is listed twice among the connected cards, in the reader of the
// computer it was created for and at its AirCard service, with one
// serial; `lanyard card issue --card SERIAL` issues it (it said "several
// cards are connected; choose one with --card", which named the same
// serial twice).
func TestCLIIssueAirCardCreatedBefore(t *testing.T) {
	s, u, tok := virtualStack(t, lanyard.KindAirCard, "ann")
	var cc apiv1.ConnectedCard
	if _, err := u.Post(context.Background(), "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: s.ws, Kind: lanyard.KindAirCard, Name: "Air"}, &cc); err != nil {
		t.Fatal(err)
	}
	s.atComputer(lanyard.KindAirCard, cc.Serial, true)
	user := &lanyardCLI{t: t, bin: lanyardBinary(t), env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
	out, _ := user.runStdin("", 0, "card", "issue", "--card", cc.Serial, "--user-pin", "24681357")
	if !strings.Contains(out, "aircard "+cc.Serial+", issued") {
		t.Fatalf("card issue --card %s:\n%s", cc.Serial, out)
	}
}
