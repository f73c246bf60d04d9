//go:build integration

package ui_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserConsoleCardPUKState: the console card page says which Admin
// PIN (PUK) the card holds (issue 13, item 5): a card issued before cards
// got their own still has the shared default, which the page and the API
// say; once replaced, its own random one. The sealed PUK is never sent.
func TestBrowserConsoleCardPUKState(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	now := time.Now()
	card := &lanyard.Card{Serial: "31415926", CardType: "piv", State: lanyard.CardClean, PUKState: lanyard.PUKDefault, CreatedAt: now, UpdatedAt: now}
	ctx := context.Background()
	if err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCard(card) }); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cards/" + strconv.FormatInt(card.ID, 10)
	if code, body := s.api("GET", path, nil); code != 200 || !strings.Contains(string(body), `"puk_state":"default"`) {
		t.Fatalf("GET %s: %d %s, want puk_state default", path, code, body)
	}
	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console/cards/" + strconv.FormatInt(card.ID, 10))
	b.WaitFor("the overview", `document.querySelector('#panel-overview').textContent.includes('Admin PIN (PUK)')`)
	if got := b.Text("#panel-overview"); !strings.Contains(got, "shared default PUK") {
		t.Errorf("the card page says %q, want the shared default PUK", got)
	}
	b.Shot("card-puk-default")

	card.PUKState, card.SealedPUK = lanyard.PUKRandom, []byte("sealed-not-sent")
	if err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.UpdateCard(card) }); err != nil {
		t.Fatal(err)
	}
	if code, body := s.api("GET", path, nil); code != 200 || !strings.Contains(string(body), `"puk_state":"random"`) || strings.Contains(string(body), "sealed-not-sent") {
		t.Fatalf("GET %s: %d %s, want puk_state random and no sealed PUK", path, code, body)
	}
	b.Visit("/console/cards/" + strconv.FormatInt(card.ID, 10))
	b.WaitFor("the overview", `document.querySelector('#panel-overview').textContent.includes('its own random PUK') || document.querySelector('#panel-overview').textContent.includes('Its own random PUK')`)
}
