package web_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Replace card answers with the new card's issue, which may carry its
// random PIN: no answer of the route is stored by a cache, as the issue
// and continue routes' are not (a refusal included: the header is the
// route's, not the result's).
func TestReplaceRouteNoStore(t *testing.T) {
	e := mustEnv(t)
	oper := e.mustUser("oper", lanyard.RoleUser, lanyard.RoleOperator)
	e.mustUser("alice")
	var u lanyard.User
	e.must(200, "GET", "/api/v1/users/alice", e.admin, nil).json(&u)
	card := &lanyard.Card{Serial: "5E7A1C", CardType: "piv", OwnerID: u.ID, State: lanyard.CardIssued, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.store.Update(context.Background(), func(tx lanyard.Tx) error { return tx.CreateCard(card) }); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cards/" + strconv.FormatInt(card.ID, 10) + "/replace"
	// No new card named: refused before any card is touched.
	r := e.must(400, "POST", path, oper, map[string]any{"reason": "lost"})
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("replace: Cache-Control %q, want no-store", cc)
	}
}
