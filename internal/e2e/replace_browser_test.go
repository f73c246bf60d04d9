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

// TestBrowserReplaceCard on the real stack (pcscd, vpcd, emulated cards,
// Chromium, mailpit). Alice's card is lost: operator olga puts a new card
// in the reader and replaces it from the console's card menu (Replace
// card dialog: reason, the connected card, PIN); the old card is revoked
// as lost, the new card's issue waits for a CA manager (four eyes) and
// both pages show the link; alice is mailed. Once the new card is issued,
// alice leaves it at home: with the policy's Issue temporary replacement
// card, she gets a temporary card in Self-Service (the required template
// chosen), and when the card turns up she says Original found: her card
// is back in use and the temporary card revoked.
func TestBrowserReplaceCard(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	alice, _ := s.user("alice")
	s.user("olga", lanyard.RoleOperator)
	carl, _ := s.user("carl", lanyard.RoleCAManager)
	m := s.startMail()
	s.pair("alice")
	lost := newVCard(t)
	s.insert(lost)
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	id := itoa(res.Card.ID)
	s.pull(lost)
	second := newVCard(t)
	s.insert(second)

	// The console's Replace card dialog.
	ob := mustBrowser(t, s.srv.URL)
	ob.Login("olga", password)
	ob.Visit("/console/cards")
	ob.WaitFor("alice's card", `document.querySelector('#card-replace-`+id+`')`)
	ob.Run("open the card menu", chromedp.Click(chromedp.CSS(`#cards summary[aria-label="Card menu for `+res.Card.Serial+`"]`)))
	ob.Run("Replace card", chromedp.Click(chromedp.CSS("#card-replace-"+id)))
	ob.WaitFor("the Replace card dialog with the new card", `document.querySelector('#replace-target option')`)
	if got := ob.Text("#replace-target"); !strings.Contains(got, second.serial) || strings.Contains(got, res.Card.Serial) {
		t.Errorf("the new card choices are %q", got)
	}
	ob.CheckAccessible("Replace card dialog")
	ob.Shot("replace-01-dialog")
	ob.Run("replace as lost",
		chromedp.SetValue(chromedp.CSS("#replace-reason"), "lost"),
		chromedp.SendKeys(chromedp.CSS("#replace-user-pin"), "13571357"),
		chromedp.SendKeys(chromedp.CSS("#replace-comment"), "left on the train"),
		chromedp.Click(chromedp.CSS("#replace-submit")))
	ob.WaitFor("the card replaced", `document.querySelector('#cards-status').textContent.includes('is replaced by card `+second.serial+`')`)
	ob.Shot("replace-02-replaced")
	if got := ob.Text("#cards-status"); !strings.Contains(got, "waits for approvals") {
		t.Errorf("the status says %q, want the pending issue mentioned", got)
	}
	old := s.cardView(res.Card.ID)
	if old.State != lanyard.CardRevoked || old.RevocationReason != lanyard.CardLost || old.Certificates[0].Status != lanyard.CertRevoked || old.ReplacedBy == nil {
		t.Fatalf("after Replace in the console: %s %q %s, link %+v", old.State, old.RevocationReason, old.Certificates[0].Status, old.ReplacedBy)
	}
	newCard := s.cardView(old.ReplacedBy.NewCardID)
	if newCard.State != lanyard.CardPending || newCard.Replaces == nil || newCard.Replaces.State != lanyard.ReplacementPending {
		t.Fatalf("the new card: %s, link %+v", newCard.State, newCard.Replaces)
	}
	ob.Visit("/console/cards/" + id)
	ob.WaitFor("the card page", `document.querySelector('#panel-overview').textContent.includes('Replaced by')`)
	if got := ob.Text("#panel-overview"); !strings.Contains(got, "card "+second.serial+" (permanent, pending)") {
		t.Errorf("the old card's page says %q", got)
	}

	// Four eyes: carl approves, olga continues; the new card is issued.
	for _, c := range newCard.Certificates {
		if c.RequestID != 0 {
			if _, err := carl.Post(ctx, "/api/v1/requests/"+itoa(c.RequestID)+"/approve", apiv1.Decision{}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	olgaAPI, _ := s.user("olga2", lanyard.RoleOperator)
	var done apiv1.IssueCardResult
	if _, err := olgaAPI.Post(ctx, "/api/v1/cards/"+itoa(newCard.ID)+"/continue", apiv1.ContinueInput{CardTarget: s.target(), UserPIN: "13571357"}, &done); err != nil {
		t.Fatal(err)
	}
	if done.State != string(lanyard.CardIssued) {
		t.Fatalf("continued: %s", done.State)
	}

	// The new card is left at home: a temporary card in Self-Service.
	s.setPolicy(func(set map[string]any) {
		section(section(set, "workflow"), "issued_card_operations")["temporary_replacement"] = true
	})
	s.pull(second)
	temp := newVCard(t)
	s.insert(temp)
	b := mustBrowser(t, s.srv.URL)
	b.Login("alice", password)
	b.Visit("/")
	nid := itoa(newCard.ID)
	b.WaitFor("the temporary replacement in the card menu", `document.querySelector('#card-replace-temporary-`+nid+`')`)
	if b.exists("#card-replace-" + nid) {
		t.Error("the owner is offered a permanent replacement")
	}
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`summary[aria-label="Card menu for card `+second.serial+`"]`)))
	b.Run("Temporary replacement card", chromedp.Click(chromedp.CSS("#card-replace-temporary-"+nid)))
	b.WaitFor("the templates of the temporary card", `document.querySelector('#replace-templates input[value="smartcard-logon"]')`)
	checked := func(sel string) bool {
		return uitest.Eval[bool](b.Browser, `!!document.querySelector(`+uitest.JSString(sel)+`)?.checked`)
	}
	if !checked(`#replace-templates input[value="smartcard-logon"]`) || checked(`#replace-templates input[value="secure-email"]`) {
		t.Error("the temporary card's required template is not chosen by default, or an optional one is")
	}
	b.CheckAccessible("Temporary replacement card dialog")
	b.Shot("replace-03-temporary-dialog")
	b.Run("issue the temporary card",
		chromedp.SendKeys(chromedp.CSS("#replace-user-pin"), "97531357"),
		chromedp.Click(chromedp.CSS("#replace-submit")))
	b.WaitFor("the temporary card issued", `document.querySelector('#cards-status').textContent.includes('is replaced by card `+temp.serial+`')`)
	b.Shot("replace-04-temporary")
	orig := s.cardView(newCard.ID)
	if orig.State != lanyard.CardDisabled || orig.ReplacedBy == nil || orig.ReplacedBy.Kind != lanyard.ReplaceTemporary || orig.ReplacedBy.State != lanyard.ReplacementActive {
		t.Fatalf("the original after the temporary replacement: %s, link %+v", orig.State, orig.ReplacedBy)
	}
	tempView := s.cardView(orig.ReplacedBy.NewCardID)
	if tempView.State != lanyard.CardIssued || len(tempView.Certificates) != 1 || tempView.Certificates[0].Template != "smartcard-logon" {
		t.Fatalf("the temporary card: %s %+v", tempView.State, tempView.Certificates)
	}

	// The card turns up: Original found.
	b.Visit("/")
	b.WaitFor("Original found", `document.querySelector('#card-found-`+nid+`')`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`summary[aria-label="Card menu for card `+second.serial+`"]`)))
	b.Run("Original found", chromedp.Click(chromedp.CSS("#card-found-"+nid)))
	b.WaitFor("the confirmation", `document.querySelector('dialog[open] button.danger')`)
	b.Run("confirm", chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
	b.WaitFor("the card back in use", `document.querySelector('#cards-status').textContent.includes('The card is back in use')`)
	b.Shot("replace-05-found")
	if v := s.cardView(newCard.ID); v.State != lanyard.CardIssued {
		t.Errorf("the original after Original found: %s", v.State)
	}
	if v := s.cardView(tempView.ID); v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardSuperseded || v.Certificates[0].Status != lanyard.CertRevoked {
		t.Errorf("the temporary card after Original found: %s %q %s", v.State, v.RevocationReason, v.Certificates[0].Status)
	}
	ob.CheckConsole()
	b.CheckConsole()

	// Pending and approved for the new card's issue on her behalf, each
	// replacement, and her card back in use.
	var subjects []string
	for _, msg := range s.mail(m, "alice@example.com", 5) {
		subjects = append(subjects, msg.Subject)
	}
	for _, want := range []string{"Card replaced: card " + res.Card.Serial, "Card replaced: card " + second.serial, "Card enabled: card " + second.serial} {
		if !slices.Contains(subjects, want) {
			t.Errorf("alice's mail %q lacks %q", subjects, want)
		}
	}
}
