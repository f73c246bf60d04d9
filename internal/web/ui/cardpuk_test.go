package ui_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestCardViewHoldsNoNewPUK: the sealed secrets an issue records in its
// operation (the new PUK, new_puk; the PIN copies kept for the owner's
// mail, pin_copy, and first look, owner_pin) never leave the server: GET
// /api/v1/cards/{id} shows the operation without them (Operation.Data
// never carries a PIN, PUK or key).
func TestCardViewHoldsNoNewPUK(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	now := time.Now()
	card := &lanyard.Card{Serial: "27182818", CardType: "piv", State: lanyard.CardAssigned, PUKState: lanyard.PUKDefault, CreatedAt: now, UpdatedAt: now}
	ctx := context.Background()
	err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		root, err := tx.UserByLogin("root")
		if err != nil {
			return err
		}
		card.OwnerID = root.ID
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		return tx.CreateOperation(&lanyard.Operation{Kind: lanyard.OpIssue, CardID: card.ID, UserID: root.ID, ActorID: root.ID, State: lanyard.OpInterrupted, Step: "puk_drawn",
			Data: []byte(`{"plan":{},"certs":{},"written":{},"new_puk":"c2VhbGVkLXB1ay1zZWNyZXQ=","pin_copy":"c2VhbGVkLXBpbi1jb3B5","owner_pin":"c2VhbGVkLW93bmVyLXBpbg==","takeover_done":true}`), CreatedAt: now, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cards/" + strconv.FormatInt(card.ID, 10)
	code, body := s.api("GET", path, nil)
	if code != 200 || !strings.Contains(string(body), `"puk_drawn"`) || !strings.Contains(string(body), "takeover_done") {
		t.Fatalf("GET %s: %d %s, want the operation", path, code, body)
	}
	for _, secret := range []string{"new_puk", "c2VhbGVkLXB1ay1zZWNyZXQ=", "pin_copy\"", "c2VhbGVkLXBpbi1jb3B5", "owner_pin", "c2VhbGVkLW93bmVyLXBpbg=="} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("GET %s shows a sealed secret (%s): %s", path, secret, body)
		}
	}
}
