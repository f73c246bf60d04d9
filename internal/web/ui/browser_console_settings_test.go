//go:build integration

package ui_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserConsoleTokenPolicyAndSharedPUK: what the CLI and the API do
// for issue 13, the console does too. An administrator sets the longest
// API token lifetime on the Users page (a bad value shows the server's
// message; the saved one is what GET /api/v1/settings/tokens answers),
// and the cards list filtered to a shared PUK shows the card whose record
// says default, not the one with its own random PUK.
func TestBrowserConsoleTokenPolicyAndSharedPUK(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	now := time.Now()
	shared := &lanyard.Card{Serial: "51000001", CardType: "piv", State: lanyard.CardIssued, PUKState: lanyard.PUKDefault, CreatedAt: now, UpdatedAt: now}
	own := &lanyard.Card{Serial: "51000002", CardType: "piv", State: lanyard.CardIssued, PUKState: lanyard.PUKRandom, SealedPUK: []byte("sealed"), CreatedAt: now, UpdatedAt: now}
	err := s.srv.Store.Update(context.Background(), func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.Card{shared, own} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := mustBrowser(t, s)
	b.Login("root", password)

	b.Visit("/console/users")
	b.WaitFor("the token policy", `document.querySelector('#token-max-ttl') && document.querySelector('#token-max-ttl').value === '2160h'`)
	b.CheckAccessible("users with the token policy")
	b.Run("a lifetime the server refuses", chromedp.SetValue(chromedp.CSS("#token-max-ttl"), "30 days"), chromedp.Click(chromedp.CSS("#token-save")))
	b.WaitFor("the server's message", `document.querySelector('#token-status').textContent.includes('want a duration from 1h to 17520h')`)
	b.Run("a lifetime of 30 days", chromedp.SetValue(chromedp.CSS("#token-max-ttl"), "720h"), chromedp.Click(chromedp.CSS("#token-save")))
	b.WaitFor("saved", `document.querySelector('#token-status').textContent.includes('Token policy saved')`)
	b.Shot("console-token-policy")
	var ts struct {
		MaxTTL string `json:"max_ttl"`
	}
	if code, body := s.api("GET", "/api/v1/settings/tokens", nil); code != 200 || json.Unmarshal(body, &ts) != nil || ts.MaxTTL != "720h" {
		t.Fatalf("GET /api/v1/settings/tokens after saving 720h: %d %s", code, body)
	}

	b.Visit("/console/cards")
	b.WaitFor("every card", `document.querySelector('#cards-status').textContent.includes('2 cards')`)
	b.CheckAccessible("cards with the PUK filter")
	b.Run("only shared PUKs", chromedp.SetValue(chromedp.CSS("#card-puk"), "default"), chromedp.Click(chromedp.CSS(`#card-search button[type=submit]`)))
	b.WaitFor("the filtered list", `document.querySelector('#cards-status').textContent.includes('1 card.')`)
	b.Shot("console-cards-shared-puk")
	got := b.Text("#cards")
	if !strings.Contains(got, shared.Serial) || !strings.Contains(got, "Shared (default)") || strings.Contains(got, own.Serial) {
		t.Errorf("cards with a shared PUK: %q, want %s only", got, shared.Serial)
	}
	if n := uitest.Eval[int](b, `document.querySelectorAll('#cards tbody tr').length`); n != 1 {
		t.Errorf("%d rows in the list of cards with a shared PUK, want 1", n)
	}
}

// TestConsoleTokenPolicyReadOnlyForOperators: an operator sees the token
// policy on the Users page but gets no field to change it (the server
// refuses them anyway).
func TestConsoleTokenPolicyReadOnlyForOperators(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olga", password, "operator")
	s.mustUser("root", password, "administrator")
	op := s.get("/console/users", s.cookie("olga", password))
	if op.status != 200 || !strings.Contains(op.body, `id="token-max-ttl"`) || !strings.Contains(op.body, " readonly") || strings.Contains(op.body, `id="token-save"`) {
		t.Errorf("the operator's Users page: %d, want the token policy read-only without a Save button", op.status)
	}
	admin := s.get("/console/users", s.cookie("root", password))
	if admin.status != 200 || !strings.Contains(admin.body, `id="token-save"`) || strings.Contains(admin.body, " readonly") {
		t.Errorf("the administrator's Users page: %d, want the token policy with a Save button", admin.status)
	}
}
