//go:build integration

package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserIssueTrackedCertificates is the guide's "If your card stores
// third-party certificates, select the certificates to register them",
// with the policy's Search for certificates when card is issued and Allow
// user to select tracked certificates on. Each card comes with a
// certificate in 9E that Lanyard did not issue and no template uses. The
// first issue keeps it selected: the card page lists it as tracked. The
// second card's user clears it: nothing of it is registered.
func TestBrowserIssueTrackedCertificates(t *testing.T) {
	s := newStack(t)
	s.user("tia")
	s.setPolicy(func(set map[string]any) {
		wf := section(set, "workflow")
		wf["search_tracked_certificates"], wf["allow_user_select_tracked"] = true, true
	})
	s.pair("tia")
	b := mustBrowser(t, s.srv.URL)
	b.Login("tia", password)

	issue := func(c *vcard, cn string, keep bool) *lanyard.Card {
		t.Helper()
		s.insert(c)
		b.Visit("/")
		b.openIssueDialog(s.reader, c.serial)
		const pin = "13572468"
		b.Run("User PINs",
			chromedp.SendKeys(chromedp.CSS("#user-pin"), pin),
			chromedp.SendKeys(chromedp.CSS("#user-pin2"), pin),
			chromedp.Click(chromedp.CSS(`#issue-form button[type=submit]`)))
		b.WaitFor("the third-party certificates step", `document.querySelector('#tracked-form')`)
		b.CheckAccessible("third-party certificates step")
		b.Shot("tracked-step-" + strconv.FormatBool(keep))
		step := b.Text("#tracked-form")
		if !strings.Contains(step, "CN="+cn) || !strings.Contains(step, "Slot 9e") {
			t.Errorf("the step says %q, without the certificate in 9e (%s)", step, cn)
		}
		if n := uitest.Eval[int](b.Browser, `document.querySelectorAll('#tracked-form input[type=checkbox]').length`); n != 1 {
			t.Errorf("the step offers %d certificates, want 1", n)
		}
		if !keep {
			b.Run("clear the certificate", chromedp.Click(chromedp.CSS("#tracked-0")))
		}
		b.Run("Issue", chromedp.Click(chromedp.CSS(`#tracked-form button[type=submit]`)))
		b.WaitFor("Card issued", `document.querySelector('#issue-result-title')?.textContent === 'Card issued'`)
		b.Run("Close", chromedp.Click(chromedp.CSS(`#issue-body .buttons button.primary`)))
		// Tia has no secret questions yet: Close leads to them.
		b.WaitFor("the secret questions page", `location.pathname === '/secret-questions'`)
		b.Settle()
		return s.cardBySerial(c.serial).Card
	}

	// contents opens the card's Contents tab and returns its rows.
	contents := func(id int64) string {
		t.Helper()
		b.Visit("/cards/" + itoa(id) + "#contents")
		b.WaitFor("the certificates table", `document.querySelector('#panel-contents table')`)
		return b.Text("#panel-contents")
	}

	kept := newVCard(t)
	cert := writeCardAuth(t, kept, "Tia's badge from the building", "")
	card := issue(kept, "Tia's badge from the building", true)
	v := s.cardView(card.ID)
	i := slices.IndexFunc(v.Certificates, func(c *apiv1.CardCertificate) bool { return c.Source == lanyard.SourceTracked })
	if i < 0 {
		t.Fatalf("card %d lists no tracked certificate: %+v", card.ID, v.Certificates)
	}
	if tc := v.Certificates[i]; tc.Slot != "9e" || tc.Serial != cert.SerialNumber.Text(16) || !strings.Contains(tc.Subject, "Tia's badge") {
		t.Errorf("the tracked certificate is %+v, want the one in 9e, serial %s", tc, cert.SerialNumber.Text(16))
	}
	text := contents(card.ID)
	b.Shot("card-contents-tracked")
	for _, want := range []string{"Tracked (third-party)", "Tia's badge from the building", cert.SerialNumber.Text(16)} {
		if !strings.Contains(text, want) {
			t.Errorf("the card's contents %q lack %q", text, want)
		}
	}

	s.pull(kept)
	cleared := newVCard(t)
	writeCardAuth(t, cleared, "Tia's old library card", "")
	card = issue(cleared, "Tia's old library card", false)
	for _, c := range s.cardView(card.ID).Certificates {
		if c.Source == lanyard.SourceTracked || c.Slot == "9e" {
			t.Errorf("the cleared certificate was registered: %+v", c)
		}
	}
	if text := contents(card.ID); strings.Contains(text, "library card") || strings.Contains(text, "Tracked") {
		t.Errorf("the card's contents %q list the certificate the user cleared", text)
	}
}
