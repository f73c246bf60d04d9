//go:build integration

package ui_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserConsoleOfflineUnblock: an operator's card page offers
// Unblock card offline for a user's issued card; the dialog takes the
// challenge and the owner's answers, and a refusal (here: a mistyped
// challenge, then a card with no key of its own) is shown with its reason,
// the dialog staying open. (The response itself, and the card taking it,
// are proved on the real stack by e2e TestOfflineUnblockOnWorkstation.)
func TestBrowserConsoleOfflineUnblock(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olga", password, "operator")
	s.mustUser("ulla", password)
	now := time.Now()
	card := &lanyard.Card{Serial: "27182818", CardType: "piv", State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now, IssuedAt: now}
	ctx := context.Background()
	if err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin("ulla")
		if err != nil {
			return err
		}
		card.OwnerID = u.ID
		return tx.CreateCard(card)
	}); err != nil {
		t.Fatal(err)
	}
	b := mustBrowser(t, s)
	b.Login("olga", password)
	b.Visit("/console/cards/" + strconv.FormatInt(card.ID, 10))
	b.WaitFor("the button", `document.querySelector('#offline-unblock-open') !== null`)
	b.Run("open", chromedp.Click(chromedp.CSS("#offline-unblock-open")))
	b.WaitFor("the dialog", `document.querySelector('#offline-challenge') !== null`)
	b.CheckAccessible("console: unblock card offline")
	if hint := b.Text("#offline-unblock-hint"); !strings.Contains(hint, "lanyard agent unblock --offline") {
		t.Errorf("the dialog says %q", hint)
	}
	b.Run("mistyped", chromedp.SendKeys(chromedp.CSS("#offline-challenge"), "7K3M-9QXA-2D4F-H8TZ"), chromedp.Click(chromedp.CSS("dialog button[type=submit]")))
	b.WaitFor("refused", `document.querySelector('dialog .status').textContent.includes('No response')`)
	if got := b.Text("dialog .status"); !strings.Contains(got, "mistyped") && !strings.Contains(got, "secret questions") {
		t.Errorf("a refused challenge says %q", got)
	}
	b.Shot("console-offline-unblock")
}
