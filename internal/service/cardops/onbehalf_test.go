package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// An operator does not issue a card for someone holding a staff role (it
// would sign in as them), as they do not reset, unblock or replace such
// cards; an administrator does. Nothing is recorded by the refusal.
func TestOperatorDoesNotIssueForStaff(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	olga := e.operator(t, "olga")
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Roles: &lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}, Password: ptr("operator password 2")}); err != nil {
		t.Fatal(err)
	}
	target := e.target()
	target.User = "alice"
	if _, err := e.svc.Cards.IssueCard(ctx, olga, cardops.IssueCardInput{CardTarget: target, UserPIN: "13572468"}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("an operator issuing a card for an operator: %v, want forbidden", err)
	}
	if _, err := e.svc.Cards.IssueOptions(ctx, olga, target); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("an operator opening the Issue dialog for an operator: %v, want forbidden", err)
	}
	if _, err := e.svc.Cards.CreateVirtualCard(ctx, olga, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard, User: "alice"}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("an operator creating a virtual card for an operator: %v, want forbidden", err)
	}
	if n := len(e.allAudit(t)); n == 0 {
		t.Fatal("no audit log")
	}
	for _, ev := range e.allAudit(t) {
		if ev.Action == "card.issue.start" {
			t.Errorf("a refused issue was started: %s", ev.Details)
		}
	}
	res, err := e.svc.Cards.IssueCard(ctx, e.admin, cardops.IssueCardInput{CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatalf("an administrator issuing a card for an operator: %v", err)
	}
	if res.Card.OwnerID != e.alice.User.ID {
		t.Errorf("card owner %d, want alice", res.Card.OwnerID)
	}
}
