package web_test

import (
	"strings"
	"testing"

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
