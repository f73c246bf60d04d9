//go:build integration

package ui_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserCardContentStatus (issue 17, item 2): the console's home
// counts the cards by the Card Monitor's content status, each count a
// link to the card list filtered by it; the list shows the status and
// its filter narrows to the cards that have it; the policy page edits
// the warning and re-send periods.
func TestBrowserCardContentStatus(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	ctx := context.Background()
	now := time.Now()
	err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		for serial, st := range map[string]lanyard.ContentStatus{"31415926": lanyard.ContentManagedExpiring, "27182818": lanyard.ContentManagedExpiring, "14142135": lanyard.ContentTrackedExpired, "17320508": ""} {
			c := &lanyard.Card{Serial: serial, CardType: "piv", State: lanyard.CardIssued, IssuedAt: now, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
			if st != "" {
				if err := tx.PutCardContents([]*lanyard.CardContent{{CardID: c.ID, Status: st, UpdatedAt: now}}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console")
	b.WaitFor("the counts", `!document.querySelector('#content-section').hidden &&
		document.querySelector('#content-counts [data-status="managed_expiring"]').textContent === '2 managed expiring' &&
		document.querySelector('#content-counts [data-status="tracked_expired"]').textContent === '1 tracked expired' &&
		document.querySelector('#content-counts [data-status="managed_expired"]').textContent === '0 managed expired'`)
	b.CheckAccessible("console home with the content counts")
	b.Shot("console-content-counts")
	b.Run("open the managed expiring cards", chromedp.Click(chromedp.CSS(`#content-counts [data-status="managed_expiring"] a`)))
	b.WaitFor("the filtered list", `location.search === '?content_status=managed_expiring' && document.querySelector('#card-content').value === 'managed_expiring' &&
		document.querySelectorAll('#cards tbody tr').length === 2 &&
		[...document.querySelectorAll('#cards tbody tr')].every((r) => r.querySelector('.badge.content-managed-expiring'))`)
	b.CheckAccessible("card list filtered by content status")
	b.Run("filter tracked expired", chromedp.SetValue(chromedp.CSS(`#card-content`), "tracked_expired"), chromedp.Click(chromedp.CSS(`#card-search button[type=submit]`)))
	b.WaitFor("the tracked expired card", `document.querySelectorAll('#cards tbody tr').length === 1 && document.querySelector('#cards tbody').textContent.includes('14142135') &&
		document.querySelector('#cards tbody').textContent.includes('Tracked expired')`)
	b.Shot("cards-content-status")

	b.Visit("/console/policies/default")
	b.WaitFor("the periods", `document.querySelector('#pol-expiry-warning').value === '30' && document.querySelector('#pol-expiry-resend').value === '7'`)
	b.Run("a 14 day warning", chromedp.SetValue(chromedp.CSS(`#pol-expiry-warning`), ""), chromedp.SendKeys(chromedp.CSS(`#pol-expiry-warning`), "14"))
	b.WaitFor("the JSON follows", `JSON.parse(document.querySelector('#obj-json').value).settings.notifications.expiry_warning_days === 14`)
	b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
	b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved policy default')`)
	var pol lanyard.Policy
	if code, body := s.api("GET", "/api/v1/policies/default", nil); code != 200 || json.Unmarshal(body, &pol) != nil {
		t.Fatalf("GET the policy: %d %s", code, body)
	}
	if n := pol.Settings.Notifications; n.ExpiryWarningDays != 14 || n.ExpiryResendDays != 7 {
		t.Errorf("saved %+v", n)
	}
	b.CheckConsole()
}
