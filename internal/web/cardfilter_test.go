package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestCardListPUKStateFilter: GET /api/v1/cards?puk_state= lists the cards
// that still have a shared PUK (issue 13) and refuses a value it does not
// know instead of listing every card.
func TestCardListPUKStateFilter(t *testing.T) {
	e := mustEnv(t)
	err := e.store.Update(t.Context(), func(tx lanyard.Tx) error {
		for serial, st := range map[string]lanyard.PUKState{"5001": lanyard.PUKDefault, "5002": lanyard.PUKRandom, "5003": lanyard.PUKUnknown} {
			c := &lanyard.Card{Serial: serial, CardType: "piv", State: lanyard.CardIssued, PUKState: st}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string]string{"default": "5001", "random": "5002", "unknown": "5003"} {
		var list []*apiv1.CardView
		e.must(200, "GET", "/api/v1/cards?puk_state="+state, e.admin, nil).json(&list)
		var got []string
		for _, c := range list {
			got = append(got, c.Serial+" "+string(c.PUKState))
		}
		if len(list) != 1 || list[0].Serial != want || string(list[0].PUKState) != state {
			t.Errorf("puk_state=%s: got %v, want only %s", state, got, want)
		}
	}
	for _, bad := range []string{"shared", "DEFAULT", "factory"} {
		r := e.must(400, "GET", "/api/v1/cards?puk_state="+bad, e.admin, nil)
		if p := r.problem(); !strings.Contains(p.Detail, "puk_state") || !strings.Contains(p.Detail, "default, unknown or random") {
			t.Errorf("puk_state=%s: problem %+v, want one naming the accepted values", bad, p)
		}
	}
}

// TestCardListPINBlockedFilter: GET /api/v1/cards?pin_blocked=true lists
// the cards whose PIN was last seen blocked, with their PIN status in
// the view (the counts a card did not give left out); false lists every
// card; a value that is not a boolean is refused.
func TestCardListPINBlockedFilter(t *testing.T) {
	e := mustEnv(t)
	err := e.store.Update(t.Context(), func(tx lanyard.Tx) error {
		for serial, pin := range map[string]*lanyard.PINState{"6001": {TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: -1}, "6002": {TriesLeft: 2, TriesTotal: 3, PUKTriesLeft: 3}, "6003": nil} {
			c := &lanyard.Card{Serial: serial, CardType: "piv", State: lanyard.CardIssued}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
			if pin != nil {
				if err := tx.PutCardPINStatus(&lanyard.CardPINStatus{CardID: c.ID, PINState: *pin, Blocked: pin.Blocked(), ReportedAt: time.Now()}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var list []*apiv1.CardView
	e.must(200, "GET", "/api/v1/cards?pin_blocked=true", e.admin, nil).json(&list)
	if len(list) != 1 || list[0].Serial != "6001" || list[0].PIN == nil || !list[0].PIN.Blocked || list[0].PIN.TriesLeft == nil ||
		*list[0].PIN.TriesLeft != 0 || list[0].PIN.PUKTriesLeft != nil {
		t.Fatalf("pin_blocked=true: %+v", list)
	}
	list = nil // a fresh decode: json reuses the elements of a slice it fills
	e.must(200, "GET", "/api/v1/cards?pin_blocked=false", e.admin, nil).json(&list)
	pins := map[string]*apiv1.CardPIN{}
	for _, c := range list {
		pins[c.Serial] = c.PIN
	}
	if len(list) < 3 || pins["6002"] == nil || pins["6002"].Blocked || *pins["6002"].TriesLeft != 2 || pins["6003"] != nil {
		t.Fatalf("pin_blocked=false: %d cards, PIN status %+v", len(list), pins)
	}
	for _, bad := range []string{"yes", "1", "TRUE"} {
		if p := e.must(400, "GET", "/api/v1/cards?pin_blocked="+bad, e.admin, nil).problem(); !strings.Contains(p.Detail, "pin_blocked") {
			t.Errorf("pin_blocked=%s: problem %+v", bad, p)
		}
	}
}
