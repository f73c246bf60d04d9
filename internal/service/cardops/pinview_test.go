package cardops_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// The card a PIN change or a PIN reset answers with carries the
// operations its caller may start next, as every other card operation's
// does: the CLI prints them ("Allowed operations: …") and the pages
// offer them. They were missing ("Allowed operations: none" after a
// reset).
func TestPINOperationsAnswerAllowedOperations(t *testing.T) {
	e, id := issuedEnv(t)
	ctx := context.Background()
	e.alice.Session = true
	view, err := e.svc.Cards.ChangePIN(ctx, e.alice, id, cardops.ChangePINInput{OldPIN: firstPIN, NewPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(view.AllowedOperations, cardperm.ChangePIN) || !slices.Contains(view.AllowedOperations, cardperm.Disable) {
		t.Errorf("after Change PIN the card allows %v", view.AllowedOperations)
	}
	res, err := e.svc.Cards.ResetPIN(ctx, e.alice, id, cardops.ResetPINInput{NewPIN: "11223355", Answers: e.aliceAnswers(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Card.AllowedOperations, cardperm.ResetPIN) || !slices.Contains(res.Card.AllowedOperations, cardperm.Revoke) {
		t.Errorf("after Reset PIN the card allows %v", res.Card.AllowedOperations)
	}
}
