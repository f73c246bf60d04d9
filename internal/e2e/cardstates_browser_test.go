//go:build integration

package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserCardStates on the real stack (pcscd, vpcd, the emulated
// card, Chromium, mailpit): alice disables her issued card from its
// Self-Service page and enables it again, the buttons being exactly the
// card's allowed operations; operator olga then revokes it as lost from
// the console's card menu, the card absent. The console shows the
// reason. When the card turns up, alice clears it from its page (it stays
// revoked) and olga withdraws it to stock. Alice is told of the disable,
// the enable and the revoke by e-mail.
func TestBrowserCardStates(t *testing.T) {
	s := newStack(t)
	alice, _ := s.user("alice")
	s.user("olga", lanyard.RoleOperator)
	m := s.startMail()
	s.pair("alice")
	c := newVCard(t)
	s.insert(c)
	var res apiv1.IssueCardResult
	if _, err := alice.Post(context.Background(), "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	id := itoa(res.Card.ID)
	if !slices.Contains(res.Card.AllowedOperations, "disable") {
		t.Fatalf("the issued card allows %v", res.Card.AllowedOperations)
	}

	b := mustBrowser(t, s.srv.URL)
	b.Login("alice", password)
	b.Visit("/cards/" + id)
	b.WaitFor("the Disable card button", `document.querySelector('#card-disable-`+id+`')`)
	if b.exists("#card-enable-"+id) || b.exists("#card-withdraw-"+id) {
		t.Error("an issued card's page offers Enable or Withdraw")
	}
	b.CheckAccessible("card page with its state operations")
	b.Shot("cardstates-01-issued")
	b.Run("Disable card", chromedp.Click(chromedp.CSS("#card-disable-"+id)))
	b.WaitFor("the confirmation", `document.querySelector('dialog[open] button.danger')`)
	b.Run("confirm", chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
	b.WaitFor("the card disabled", `document.querySelector('#card-enable-`+id+`') && document.querySelector('#card-status').textContent.includes('The card is disabled')`)
	b.Shot("cardstates-02-disabled")
	if v := s.cardView(res.Card.ID); v.State != lanyard.CardDisabled || !v.Certificates[0].OnHold {
		t.Fatalf("after Disable in the browser: %s, certificate on hold %v", v.State, v.Certificates[0].OnHold)
	}
	if b.exists("#card-disable-" + id) {
		t.Error("a disabled card's page still offers Disable")
	}
	// Connected, it shows as disabled, and Issue card refuses it.
	b.Visit("/")
	b.WaitFor("the connected card", `document.querySelector('#connected').textContent.includes(`+uitest.JSString(res.Card.Serial)+`)`)
	if got := b.Text("#connected"); !strings.Contains(got, "Disabled") {
		t.Errorf("the connected card is not shown disabled: %q", got)
	}
	b.Run("Issue card", chromedp.Click(chromedp.CSS(`#connected button[aria-label="Issue card in `+s.reader+`"]`)))
	b.WaitFor("the Issue card dialog's answer", `document.querySelector('#issue-dialog').open && (document.querySelector('#issue-form') || document.querySelector('#issue-body .error'))`)
	if got := b.Text("#issue-body"); !strings.Contains(got, "a disabled card cannot be issued, updated or unblocked") {
		t.Errorf("the Issue card dialog for a disabled card says %q", got)
	}
	b.Shot("cardstates-02b-issue-refused")
	b.Visit("/cards/" + id)
	b.WaitFor("the Enable card button", `document.querySelector('#card-enable-`+id+`')`)
	b.Run("Enable card", chromedp.Click(chromedp.CSS("#card-enable-"+id)))
	b.WaitFor("the card enabled", `document.querySelector('#card-disable-`+id+`') && document.querySelector('#card-status').textContent.includes('The card is enabled')`)
	if v := s.cardView(res.Card.ID); v.State != lanyard.CardIssued || v.Certificates[0].OnHold {
		t.Fatalf("after Enable in the browser: %s, certificate on hold %v", v.State, v.Certificates[0].OnHold)
	}

	// The card is lost: the help desk revokes it from the console.
	s.pull(c)
	ob := mustBrowser(t, s.srv.URL)
	ob.Login("olga", password)
	ob.Visit("/console/cards")
	ob.WaitFor("alice's card", `document.querySelector('#card-revoke-`+id+`')`)
	ob.Run("open the card menu", chromedp.Click(chromedp.CSS(`#cards summary[aria-label="Card menu for `+res.Card.Serial+`"]`)))
	ob.Run("Revoke card", chromedp.Click(chromedp.CSS("#card-revoke-"+id)))
	ob.WaitFor("the Revoke card dialog", `document.querySelector('#revoke-reason')`)
	ob.CheckAccessible("Revoke card dialog")
	ob.Shot("cardstates-03-revoke-dialog")
	ob.Run("choose Lost and revoke",
		chromedp.SetValue(chromedp.CSS("#revoke-reason"), "lost"),
		chromedp.SendKeys(chromedp.CSS("#revoke-comment"), "reported by phone"),
		chromedp.Click(chromedp.CSS("#revoke-submit")))
	ob.WaitFor("the card revoked", `document.querySelector('#cards-status').textContent.includes('The card is revoked (Lost)')`)
	ob.Shot("cardstates-04-revoked")
	if row := ob.Text("#cards"); !strings.Contains(row, "Revoked Lost") {
		t.Errorf("the console's card list says %q", row)
	}
	if v := s.cardView(res.Card.ID); v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost || v.Certificates[0].Status != lanyard.CertRevoked {
		t.Fatalf("after Revoke in the console: %s %q %s", v.State, v.RevocationReason, v.Certificates[0].Status)
	}

	// The card turns up: alice clears it from its page (it stays
	// revoked), and olga withdraws it to stock from the console.
	s.insert(c)
	b.Visit("/cards/" + id)
	b.WaitFor("the Clear card button", `document.querySelector('#card-clear')`)
	if b.exists("#card-withdraw-" + id) {
		t.Error("the owner is offered Withdraw")
	}
	b.Run("Clear card", chromedp.Click(chromedp.CSS("#card-clear")))
	b.WaitFor("the Clear card dialog", `document.querySelector('#clear-hint')`)
	b.Run("clear", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the card cleared", `document.querySelector('dialog[open] .success') || document.querySelector('dialog[open] .status.error, dialog[open] .error')`)
	if got := b.Text("dialog[open]"); !strings.Contains(got, "The card is cleared") {
		t.Fatalf("the Clear card dialog says %q", got)
	}
	if v := s.cardView(res.Card.ID); v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost {
		t.Fatalf("after Clear: %s %q", v.State, v.RevocationReason)
	}
	ob.Visit("/console/cards")
	ob.WaitFor("the Withdraw card button", `document.querySelector('#card-withdraw-`+id+`')`)
	ob.Run("open the card menu", chromedp.Click(chromedp.CSS(`#cards summary[aria-label="Card menu for `+res.Card.Serial+`"]`)))
	ob.Run("Withdraw card", chromedp.Click(chromedp.CSS("#card-withdraw-"+id)))
	ob.WaitFor("the Withdraw card dialog", `document.querySelector('#withdraw-stock')`)
	ob.CheckAccessible("Withdraw card dialog")
	ob.Run("withdraw to stock", chromedp.Click(chromedp.CSS("#withdraw-submit")))
	ob.WaitFor("the card in stock", `document.querySelector('#cards-status').textContent.includes('The card is back in stock')`)
	if v := s.cardView(res.Card.ID); v.State != lanyard.CardClean || v.OwnerID != 0 {
		t.Fatalf("after Withdraw: %s owner %d", v.State, v.OwnerID)
	}
	ob.CheckConsole()
	b.CheckConsole()

	var subjects []string
	for _, msg := range s.mail(m, "alice@example.com", 3) {
		subjects = append(subjects, msg.Subject)
	}
	for _, want := range []string{"Card disabled: card " + res.Card.Serial, "Card enabled: card " + res.Card.Serial, "Card revoked: card " + res.Card.Serial} {
		if !slices.Contains(subjects, want) {
			t.Errorf("alice's mail %q lacks %q", subjects, want)
		}
	}
}
