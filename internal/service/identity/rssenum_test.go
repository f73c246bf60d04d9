package identity_test

import (
	"context"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// Decoy questions (unknown login) always come in the policy's order; a real
// user's come in the order they chose them, so a user who picked their
// questions out of the policy's order is told apart in one request.
func TestRSSQuestionsInPolicyOrder(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	q := identity.SecretQuestions
	in := []identity.SecretAnswerInput{{Question: q[4], Answer: "Volvo"}, {Question: q[0], Answer: "Rex"}, {Question: q[2], Answer: "Sint Jan"}}
	if _, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, identity.SecretAnswersInput{Answers: in}); err != nil {
		t.Fatal(err)
	}
	inPolicyOrder := func(qs []string) bool {
		last := -1
		for _, x := range qs {
			i := slices.Index(q, x)
			if i < last {
				return false
			}
			last = i
		}
		return true
	}
	for _, login := range []string{"ghost", "nobody", "zed", "carol-x", "mallory"} {
		g, err := e.svc.Identity.RSSQuestionsFor(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		if !inPolicyOrder(g.Questions) {
			t.Fatalf("decoy for %s out of order: %q", login, g.Questions)
		}
	}
	a, err := e.svc.Identity.RSSQuestionsFor(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alice asked %q", a.Questions)
	if !inPolicyOrder(a.Questions) {
		t.Errorf("a real user's questions are out of policy order, decoys never are: existence of alice revealed")
	}
}

// A user who answered more questions than asked gets a different random
// subset on each ask; a decoy is always the same.
func TestRSSQuestionsSameOnEveryAsk(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	q := identity.SecretQuestions
	var in []identity.SecretAnswerInput
	for i := range q {
		in = append(in, identity.SecretAnswerInput{Question: q[i], Answer: "answer " + q[i][:5]})
	}
	if _, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, identity.SecretAnswersInput{Answers: in}); err != nil {
		t.Fatal(err)
	}
	first, _ := e.svc.Identity.RSSQuestionsFor(ctx, "alice")
	differs := false
	for range 20 {
		n, _ := e.svc.Identity.RSSQuestionsFor(ctx, "alice")
		if !slices.Equal(n.Questions, first.Questions) {
			differs = true
		}
	}
	if differs {
		t.Errorf("a real user's questions change between asks (decoys never do): existence revealed; an attacker also re-rolls until the questions they know")
	}
}
