package cardops_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	opspkg "github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// midReset runs after() once, right after the PIN reset's pin_unblocked
// step commits: a disable or revocation committed while the card is
// being reset (review of issue 16, H1 and M2).
type midReset struct {
	lanyard.Store
	hit   bool
	after func()
}

func (w *midReset) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	saw := false
	err := w.Store.Update(ctx, func(tx lanyard.Tx) error { return fn(stepSpy{Tx: tx, saw: &saw}) })
	if err == nil && saw && !w.hit && w.after != nil {
		w.hit = true
		w.after()
	}
	return err
}

type stepSpy struct {
	lanyard.Tx
	saw *bool
}

func (t stepSpy) UpdateOperation(op *lanyard.Operation, prev time.Time) error {
	if op.Kind == lanyard.OpResetPIN && op.Step == string(opspkg.PINUnblocked) {
		*t.saw = true
	}
	return t.Tx.UpdateOperation(op, prev)
}

// resetRace issues alice's card, then has operator olga reset its PIN
// (no secret answers asked) while during(e, card ID) runs right after the
// reset's pin_unblocked step commits; it returns the env and the card's ID
// after checking during ran (the reset's own outcome is logged: either
// is right, what matters is the state it leaves).
func resetRace(t *testing.T, during func(e *issueEnv, id int64)) (*issueEnv, int64) {
	t.Helper()
	w := &midReset{}
	e := &issueEnv{}
	e.opts.WrapStore = func(s lanyard.Store) lanyard.Store { w.Store = s; return w }
	e = newIssueEnvFrom(t, e)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: firstPIN})
	if err != nil {
		t.Fatal(err)
	}
	id := res.Card.ID
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.Administrator.ValidateAnswers = false })
	op := e.operator(t, "olga")
	w.after = func() { during(e, id) }
	_, err = e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "13572468"})
	t.Logf("reset: %v", err)
	if !w.hit {
		t.Fatal("hook not hit")
	}
	return e, id
}

func TestDisableDuringResetKept(t *testing.T) {
	ctx := context.Background()
	e, id := resetRace(t, func(e *issueEnv, id int64) {
		v, err := e.svc.Cards.DisableCard(ctx, e.admin, id)
		t.Logf("concurrent disable: state=%v err=%v", stateOf(v), err)
	})
	v, err := e.svc.Cards.GetCard(ctx, e.admin, id)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, c := range v.Certificates {
		if c.OnHold {
			held++
		}
	}
	t.Logf("after both: card state %s, certificates on hold %d, allowed ops %v", v.State, held, v.AllowedOperations)
	if v.State != lanyard.CardDisabled {
		t.Errorf("the committed disable was undone by the PIN reset: card is %s", v.State)
	}
}

func TestRevokeDuringResetKeepsPUK(t *testing.T) {
	ctx := context.Background()
	e, id := resetRace(t, func(e *issueEnv, id int64) {
		_, err := e.svc.Cards.RevokeCard(ctx, e.admin, id, cardops.RevokeCardInput{Reason: "lost"})
		t.Logf("concurrent revoke: %v", err)
	})
	_, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, id, cardops.ClearInput{CardTarget: e.target()})
	t.Logf("clear of the revoked card afterwards: %v", err)
	if err != nil {
		t.Errorf("revoked card cannot be cleared after a revoke raced a PIN reset: %v", err)
	}
}

func stateOf(v *cardops.CardView) any {
	if v == nil {
		return nil
	}
	return v.State
}
