//go:build integration

package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserConsoleIssueForUser is the guide's "You can get a
// ready-to-use card" (issue 14 item 1) on the real stack: operator olga
// connects an empty card at her own workstation, opens the console's
// "Issue a card for a user", chooses alice and issues the card under
// alice's policy in the same Issue card dialog as Self-Service. The policy
// sets a random PIN shown to the user and mailed to her: olga's screen
// never shows it (the policy does not show generated PINs to
// administrators), the mail reaches alice. Certificates issued on
// another person's behalf wait for a second person's CA approval (issue
// 13): the card is Pending until CA manager carl approves; alice then
// finds the card under Your cards at her next login.
func TestBrowserConsoleIssueForUser(t *testing.T) {
	s := newStack(t)
	alice, _ := s.user("alice")
	s.user("olga", lanyard.RoleOperator)
	carl, _ := s.user("carl", lanyard.RoleCAManager)
	m := s.startMail()
	s.setPolicy(func(set map[string]any) {
		iss := section(set, "issuance")
		iss["random_user_pin"] = true
		rp := section(iss, "random_pin")
		rp["show_to_user"], rp["mail_to"] = true, "user"
	})
	s.pair("olga")
	c := newVCard(t)
	s.insert(c)

	b := mustBrowser(t, s.srv.URL)
	b.Login("olga", password)
	b.Visit("/console/issue")
	b.WaitFor("the card at olga's workstation", `document.querySelector('#issue-connected').textContent.includes(`+uitest.JSString(c.serial)+`)`)
	b.CheckAccessible("console Issue a card for a user")
	b.Shot("01-console-issue-for-user")
	b.Run("choose alice", chromedp.SendKeys(chromedp.CSS("#issue-user"), "alice"))
	b.Run("click Issue card", chromedp.Click(chromedp.CSS(`#issue-connected button[aria-label="Issue card in `+s.reader+`"]`)))
	b.WaitFor("the Issue card dialog", `document.querySelector('#issue-dialog').open &&
		(document.querySelector('#issue-form') || document.querySelector('#issue-body .error'))`)
	form := b.Text("#issue-body")
	for _, want := range []string{c.serial, "issuing adds it to the cards of alice", "reaches alice as their policy says"} {
		if !strings.Contains(form, want) {
			t.Errorf("the dialog for alice's card says %q, lacking %q", form, want)
		}
	}
	if b.exists("#user-pin") {
		t.Error("the dialog asks the operator for a User PIN though alice's policy sets a random one")
	}
	b.CheckAccessible("Issue card dialog for alice")
	b.Shot("02-issue-dialog-for-alice")
	b.Run("Issue", chromedp.Click(chromedp.CSS(`#issue-form button[type=submit]`)))
	b.WaitFor("the result", `document.querySelector('#issue-result-title')`)
	b.Shot("03-issued-for-alice-pending")
	if got := b.Text("#issue-result-title"); got != "Card issue pending" {
		t.Fatalf("the result is %q (%s), want Card issue pending", got, b.Text("#issue-body"))
	}
	result := b.Text("#issue-body")
	for _, want := range []string{"second person’s approval", "The PIN of alice was e-mailed to alice@example.com."} {
		if !strings.Contains(result, want) {
			t.Errorf("the result %q lacks %q", result, want)
		}
	}
	if b.exists("#random-pin") || b.exists("#pin-mail-user") {
		t.Error("the operator is shown alice's random PIN, or offered to mail it")
	}
	b.Run("Close", chromedp.Click(chromedp.CSS(`#issue-body .buttons button.primary`)))
	b.WaitFor("dialog closed", `!document.querySelector('#issue-dialog').open`)

	// The PIN went to alice, and only to her, beside the pending notice.
	var pinMail *mailpittest.Message
	for _, msg := range s.mail(m, "alice@example.com", 2) {
		if strings.HasPrefix(msg.Subject, "User PIN") {
			pinMail = msg
		}
	}
	if pinMail == nil {
		t.Fatal("no PIN mail to alice")
	}
	wantMail(t, pinMail, "alice@example.com", "User PIN of card "+c.serial)
	card := s.cardBySerial(c.serial)
	if card.Owner != "alice" || card.State != lanyard.CardPending || len(card.Certificates) == 0 {
		t.Fatalf("the card is %s's, %s, with %d certificates; want alice's, pending", card.Owner, card.State, len(card.Certificates))
	}
	ctx := context.Background()
	for _, cc := range card.Certificates {
		if cc.RequestID == 0 {
			t.Fatalf("certificate %s of a card issued for alice needs no CA approval", cc.Template)
		}
		// Issue 13: a second person, the CA manager, approves.
		if _, err := carl.Post(ctx, "/api/v1/requests/"+strconv.FormatInt(cc.RequestID, 10)+"/approve", apiv1.Decision{Comment: "identity checked"}, nil); err != nil {
			t.Fatalf("carl approving request %d: %v", cc.RequestID, err)
		}
	}

	a := mustBrowser(t, s.srv.URL)
	a.Login("alice", password)
	art := `#cards article[data-card-id="` + strconv.FormatInt(card.ID, 10) + `"]`
	a.WaitFor("the card under Your cards", `document.querySelector(`+uitest.JSString(art)+`)`)
	text := a.Text(art)
	for _, want := range []string{c.serial, "piv", "Pending", "Continue card issue"} {
		if !strings.Contains(text, want) {
			t.Errorf("alice's Your cards shows %q, lacking %q", text, want)
		}
	}
	if got := a.Text("#cards-status"); got != "You have 1 card." {
		t.Errorf("alice's Your cards status %q", got)
	}

	// Her policy shows random PINs to the user: the PIN olga never saw
	// waits, sealed, for alice's login, shown once.
	show := "#show-pin-" + strconv.FormatInt(card.ID, 10)
	a.WaitFor("the PIN offered", `document.querySelector(`+uitest.JSString(show)+`)`)
	if got := a.Text("#issued-pins"); !strings.Contains(got, "Card "+c.serial+" (piv) was issued for you by User olga") ||
		!strings.Contains(got, "It is kept for you until ") || !strings.Contains(got, "the card's PIN has to be reset") {
		t.Errorf("alice's notice says %q", got)
	}
	a.CheckAccessible("Your cards with a PIN to show")
	a.Shot("04-alice-your-cards")
	a.Run("Show PIN", chromedp.Click(chromedp.CSS(show)))
	field := "#issued-pin-" + strconv.FormatInt(card.ID, 10)
	a.WaitFor("the PIN shown", `document.querySelector(`+uitest.JSString(field)+`)`)
	pin := uitest.Eval[string](a.Browser, `document.querySelector(`+uitest.JSString(field)+`).value`)
	if !regexp.MustCompile(`^\d{8}$`).MatchString(pin) || !strings.Contains(pinMail.Text, pin) {
		t.Errorf("alice is shown PIN %q; the PIN mail says %q", pin, pinMail.Text)
	}
	a.Shot("05-alice-pin-shown")
	if _, err := alice.Post(ctx, "/api/v1/cards/"+strconv.FormatInt(card.ID, 10)+"/issued-pin", map[string]any{"operation_id": card.Operations[0].ID}, nil); err == nil {
		t.Error("the PIN is shown a second time")
	}
	a.Visit("/")
	a.WaitFor("Your cards again", `document.querySelector(`+uitest.JSString(art)+`)`)
	if a.exists(show) {
		t.Error("the PIN is offered again after it was shown")
	}
}
