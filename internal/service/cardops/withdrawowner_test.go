package cardops_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestWithdrawnToOwnerIsKeptForThem: a card withdrawn to its owner is
// kept for her new issue (review L7): an operator issuing it to another
// user is refused, with the card unchanged, until the operator withdraws
// it to stock; then it is issued to him.
func TestWithdrawnToOwnerIsKeptForThem(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Card.ID
	olga := e.staff(t, "olga", lanyard.RoleUser, lanyard.RoleOperator)
	if _, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "bob", DisplayName: ptr("Bob"), UPN: ptr("bob@example.test"), Email: ptr("bob@example.test")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeCard(ctx, olga, id, cardops.RevokeCardInput{Reason: lanyard.CardDamaged}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeAndClearCard(ctx, olga, id, cardops.ClearInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	kept, err := e.svc.Cards.WithdrawCard(ctx, olga, id, cardops.WithdrawCardInput{To: cardops.WithdrawToOwner})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kept.AllowedOperations, []cardperm.Op{cardperm.Withdraw}) {
		t.Errorf("an operator on a card kept for its owner may %v, want withdraw (to stock)", kept.AllowedOperations)
	}
	_, err = e.svc.Cards.WithdrawCard(ctx, olga, id, cardops.WithdrawCardInput{To: cardops.WithdrawToOwner})
	servicetest.WantErr(t, "withdraw to the owner twice", err, lanyard.EConflict, "already kept for its owner")

	toBob := e.target()
	toBob.User = "bob"
	_, err = e.svc.Cards.IssueCard(ctx, olga, cardops.IssueCardInput{CardTarget: toBob, UserPIN: "13572468"})
	servicetest.WantErr(t, "issuing alice's kept card to bob", err, lanyard.EConflict, "withdraws it to stock")
	if v, err := e.svc.Cards.GetCard(ctx, olga, id); err != nil || v.OwnerID != e.alice.User.ID || v.State != lanyard.CardClean {
		t.Fatalf("after the refusal: %+v, %v", v, err)
	}

	v, err := e.svc.Cards.WithdrawCard(ctx, olga, id, cardops.WithdrawCardInput{To: cardops.WithdrawToStock})
	if err != nil {
		t.Fatal(err)
	}
	if v.OwnerID != 0 || v.State != lanyard.CardClean || len(v.AllowedOperations) != 0 {
		t.Fatalf("withdrawn to stock: owner %d %s may %v", v.OwnerID, v.State, v.AllowedOperations)
	}
	again, err := e.svc.Cards.IssueCard(ctx, olga, cardops.IssueCardInput{CardTarget: toBob, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	// On behalf of another user the issue waits for a second person.
	if again.Card.OwnerID == e.alice.User.ID || again.Card.OwnerID == 0 || again.Card.State != lanyard.CardPending {
		t.Errorf("issued from stock to bob: owner %d %s", again.Card.OwnerID, again.Card.State)
	}
}
