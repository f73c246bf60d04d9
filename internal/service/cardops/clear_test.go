package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Revoke and clear card runs as an operation (issue 15): pulled after any
// number of APDUs it fails — the certificates and the card's owner stay
// as they were, and the failed clear keeps nothing from a new attempt —
// and once it goes through, its operation is done with its steps
// recorded and one card.revoke_clear event, and the card can be issued
// again.
func TestRevokeAndClearPulledAnywhereThenRepeated(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	serial := res.Card.Certificates[0].Serial
	var cleared *cardops.CardView
	failures := 0
	for n := 1; cleared == nil; n++ {
		if n > 200 {
			t.Fatal("revoke and clear never went through")
		}
		e.access.FailAfter(1, reader, n)
		v, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, res.Card.ID, cardops.ClearInput{CardTarget: e.target()})
		if err == nil {
			cleared = v
			break
		}
		failures++
		card, err := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID)
		if err != nil {
			t.Fatalf("after %d APDUs: %v", n, err)
		}
		if card.State != lanyard.CardIssued || card.OwnerID != e.alice.User.ID {
			t.Fatalf("after %d APDUs the card is %s, owner %d", n, card.State, card.OwnerID)
		}
		if c, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, "", serial); err != nil || c.Status == lanyard.CertRevoked {
			t.Fatalf("after %d APDUs the certificate is %+v (%v)", n, c, err)
		}
		for _, op := range card.Operations {
			if !op.State.Finished() {
				t.Fatalf("after %d APDUs operation %d (%s) is %s", n, op.ID, op.Kind, op.State)
			}
		}
	}
	if failures == 0 {
		t.Fatal("no attempt failed: the test pulled nothing")
	}
	if cleared.State != lanyard.CardClean || cleared.OwnerID != 0 {
		t.Fatalf("after revoke and clear: %s, owner %d", cleared.State, cleared.OwnerID)
	}
	if c, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, "", serial); err != nil || c.Status != lanyard.CertRevoked {
		t.Fatalf("the certificate after revoke and clear: %+v (%v)", c, err)
	}
	var clears, failed int
	var last *lanyard.Operation
	// All of them, from the store: the card view shows the newest 20,
	// fewer than a clear that reads every retired slot has pull points.
	var ops []*lanyard.Operation
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: res.Card.ID, Kind: lanyard.OpClear})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		clears++
		if op.State == lanyard.OpFailed {
			failed++
		}
		if last == nil || op.ID > last.ID {
			last = op
		}
	}
	// A pull before the card was identified records nothing; every later
	// one a failed clear.
	if failed == 0 || clears != failed+1 || failed > failures || last.State != lanyard.OpDone || last.Step != "done" {
		t.Fatalf("clear operations: %d (%d failed) after %d failures; the last %+v", clears, failed, failures, last)
	}
	wantAudit(t, e, "card.revoke_clear", 1)
	wantAudit(t, e, "card.clear.fail", failed)
	if _, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
}

// An interrupted issue stays the one Continue card issue picks up however
// many operations came after it (failed clears): it is found by kind and
// state, not among the newest few.
func TestInterruptedIssueFoundAfterManyClears(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.access.FailAfter(1, reader, 12)
	_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Fatalf("the pulled issue: %v", err)
	}
	cards, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	if err != nil || len(cards) != 1 {
		t.Fatalf("cards: %v %+v", err, cards)
	}
	card := cards[0]
	if err := e.st.Update(ctx, func(tx lanyard.Tx) error {
		for range 60 {
			op := &lanyard.Operation{Kind: lanyard.OpClear, CardID: card.ID, UserID: e.alice.User.ID, State: lanyard.OpFailed, Step: "planned",
				Data: []byte(`{}`), CreatedAt: card.CreatedAt, UpdatedAt: card.CreatedAt}
			if err := tx.CreateOperation(op); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, card.ID, cardops.ContinueInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != string(lanyard.CardIssued) {
		t.Fatalf("continued issue: %+v", res)
	}
}
