package web_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card state routes answer as the rules say: the owner disables and
// enables her card (200, the card's allowed operations in the answer);
// another user gets 404; an operation the state does not allow gets
// 409, one the person may not start 403, a reason not in the list 400;
// none of the refusals writes an audit event.
func TestCardStateRoutes(t *testing.T) {
	e := mustEnv(t)
	alice, bob := e.mustUser("alice"), e.mustUser("bob")
	oper := e.mustUser("oper", lanyard.RoleUser, lanyard.RoleOperator)
	var u lanyard.User
	e.must(200, "GET", "/api/v1/users/alice", e.admin, nil).json(&u)
	card := &lanyard.Card{Serial: "5747E5", CardType: "piv", OwnerID: u.ID, State: lanyard.CardIssued, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.store.Update(context.Background(), func(tx lanyard.Tx) error { return tx.CreateCard(card) }); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/cards/" + strconv.FormatInt(card.ID, 10)

	var v apiv1.CardView
	e.must(200, "GET", path, alice, nil).json(&v)
	// recover_keys: the owner's own PIV card (the service asks the step-up).
	if !slices.Equal(v.AllowedOperations, []string{"change_pin", "reset_pin", "unblock_offline", "recover_keys", "disable", "revoke"}) {
		t.Fatalf("alice may %v on her issued card", v.AllowedOperations)
	}
	e.must(200, "POST", path+"/disable", alice, struct{}{}).json(&v)
	if v.State != lanyard.CardDisabled || !slices.Equal(v.AllowedOperations, []string{"enable", "revoke"}) {
		t.Fatalf("after disable: %s, allowed %v", v.State, v.AllowedOperations)
	}

	before := e.auditCount()
	for _, c := range []struct {
		token, op string
		body      any
		want      int
	}{
		{bob, "enable", struct{}{}, 404},
		{alice, "disable", struct{}{}, 409},
		{alice, "withdraw", struct{}{}, 409},
		{alice, "revoke", map[string]string{"reason": "misplaced"}, 400},
		{oper, "withdraw", map[string]string{"to": "stock"}, 409},
	} {
		if r := e.do("POST", path+"/"+c.op, c.token, c.body); r.status != c.want {
			t.Errorf("%s: %d, want %d: %s", c.op, r.status, c.want, r.body)
		}
	}
	e.must(200, "POST", path+"/revoke", oper, map[string]string{"reason": "lost"}).json(&v)
	if v.State != lanyard.CardRevoked || v.RevocationReason != lanyard.CardLost {
		t.Fatalf("after revoke: %s %q", v.State, v.RevocationReason)
	}
	if r := e.do("POST", path+"/withdraw", alice, struct{}{}); r.status != 403 {
		t.Errorf("withdraw by the owner: %d, want 403: %s", r.status, r.body)
	}
	if got := e.auditCount(); got != before+1 {
		t.Errorf("%d audit events for one revoke and the refusals", got-before)
	}
	// Nothing was ever written to the card: it goes back to stock.
	var w apiv1.CardView // a fresh one: omitted fields stay zero
	e.must(200, "POST", path+"/withdraw", oper, map[string]string{"to": "stock"}).json(&w)
	if w.State != lanyard.CardClean || w.OwnerID != 0 || w.RevocationReason != "" {
		t.Fatalf("after withdraw: %s owner %d reason %q", w.State, w.OwnerID, w.RevocationReason)
	}
}
