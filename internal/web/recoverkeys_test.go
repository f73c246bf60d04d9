package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Recover keys onto card through the API: someone else's card is not
// found for a plain user; staff without approved key recovery requests
// are refused (403) before any card is touched, as is the owner giving a
// request (400); a card that is not issued is a conflict (409).
func TestRecoverKeysRoute(t *testing.T) {
	e := mustEnv(t)
	oper := e.mustUser("oper", lanyard.RoleUser, lanyard.RoleOperator)
	alice := e.mustUser("alice")
	bob := e.mustUser("bob")
	var u lanyard.User
	e.must(200, "GET", "/api/v1/users/alice", e.admin, nil).json(&u)
	mk := func(serial string, state lanyard.CardState) string {
		card := &lanyard.Card{Serial: serial, CardType: "piv", OwnerID: u.ID, State: state, CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := e.store.Update(context.Background(), func(tx lanyard.Tx) error { return tx.CreateCard(card) }); err != nil {
			t.Fatal(err)
		}
		return "/api/v1/cards/" + strconv.FormatInt(card.ID, 10) + "/recover-keys"
	}
	issued, revoked := mk("5E7A1D", lanyard.CardIssued), mk("5E7A1E", lanyard.CardRevoked)
	e.must(404, "POST", issued, bob, map[string]any{})
	if r := e.must(403, "POST", issued, oper, map[string]any{}); r.problem().Code != lanyard.EForbidden {
		t.Errorf("staff without requests: %+v", r.problem())
	}
	e.must(400, "POST", issued, alice, map[string]any{"requests": []int64{1}})
	e.must(409, "POST", revoked, alice, map[string]any{})
}
