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

// TestBrowserPINBlocked: a card whose agent last saw its PIN blocked
// (docs/lifecycle.md, "PIN blocked cards") carries a "PIN blocked" badge
// in the console's card list, which the PIN filter narrows to it; its
// page says the tries left and where and when it was seen; its owner's
// Self-Service shows "PIN blocked — Unblock", which opens Reset PIN.
func TestBrowserPINBlocked(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	s.mustUser("pia", password)
	ctx := context.Background()
	now := time.Now()
	var blocked, fine *lanyard.Card
	err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		pia, err := tx.UserByLogin("pia")
		if err != nil {
			return err
		}
		ws := &lanyard.Workstation{Name: "front-desk-pc", OwnerID: pia.ID, Status: lanyard.WorkstationActive, PublicKey: []byte("spki"), KeySHA256: "ab12", PairingCode: "pin-test-code",
			CreatedAt: now, PairingExpiresAt: now.Add(time.Hour)}
		if err := tx.CreateWorkstation(ws); err != nil {
			return err
		}
		blocked = &lanyard.Card{Serial: "27182818", CardType: "piv", OwnerID: pia.ID, State: lanyard.CardIssued, IssuedAt: now, CreatedAt: now, UpdatedAt: now}
		fine = &lanyard.Card{Serial: "16180339", CardType: "piv", OwnerID: pia.ID, State: lanyard.CardIssued, IssuedAt: now, CreatedAt: now, UpdatedAt: now}
		for _, c := range []*lanyard.Card{blocked, fine} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		if err := tx.PutCardPINStatus(&lanyard.CardPINStatus{CardID: blocked.ID, PINState: lanyard.PINState{TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: 3},
			Blocked: true, ReportedAt: now, WorkstationID: ws.ID}); err != nil {
			return err
		}
		return tx.PutCardPINStatus(&lanyard.CardPINStatus{CardID: fine.ID, PINState: lanyard.PINState{TriesLeft: 2, TriesTotal: 3, PUKTriesLeft: 3}, ReportedAt: now, WorkstationID: ws.ID})
	})
	if err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console/cards")
	b.WaitFor("the card list", `!!document.querySelector('#cards table')`)
	b.WaitFor("the PIN blocked badge on the blocked card only",
		`[...document.querySelectorAll('#cards tbody tr')].filter((r) => r.querySelector('.badge.pin-blocked')).map((r) => r.textContent.includes('27182818')).join() === 'true'`)
	b.CheckAccessible("card list with a PIN blocked card")
	b.Visit("/console/cards?pin_blocked=true")
	b.WaitFor("the filtered list", `document.querySelectorAll('#cards tbody tr').length === 1 && document.querySelector('#cards tbody').textContent.includes('27182818')`)
	if got := b.Text("#card-pin"); got == "" {
		t.Error("the PIN filter is not shown")
	}
	b.Shot("cards-pin-blocked")
	b.Visit("/console/cards/" + strconv.FormatInt(blocked.ID, 10))
	b.WaitFor("the PIN line", `!!document.querySelector('#card-pin')`)
	if got := b.Text("#card-pin"); !strings.Contains(got, "Blocked (0 of 3 tries left)") || !strings.Contains(got, "seen at front-desk-pc") {
		t.Errorf("the console card page says %q", got)
	}
	b.Visit("/console/cards/" + strconv.FormatInt(fine.ID, 10))
	b.WaitFor("the PIN line", `!!document.querySelector('#card-pin')`)
	if got := b.Text("#card-pin"); !strings.Contains(got, "2 of 3 tries left") || strings.Contains(got, "Blocked") {
		t.Errorf("the console card page of the card not blocked says %q", got)
	}

	o := mustBrowser(t, s)
	o.Login("pia", password)
	o.WaitFor("the notice on Your cards", `document.querySelectorAll('#pin-blocked').length === 1`)
	o.Visit("/cards/" + strconv.FormatInt(blocked.ID, 10))
	o.WaitFor("the notice with Unblock", `!!document.querySelector('#pin-blocked #pin-blocked-unblock')`)
	o.CheckAccessible("card page with its PIN blocked")
	o.Shot("selfservice-pin-blocked")
	o.Run("Unblock", chromedp.Click("#pin-blocked-unblock"))
	o.WaitFor("the Reset PIN dialog", `!!document.querySelector('dialog[open][aria-labelledby="pin-reset-title"]')`)
	o.CheckConsole()
}
