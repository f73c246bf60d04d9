package identity_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

func TestCheckSecretAnswers(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	q := identity.SecretQuestions
	id := e.alice.User.ID
	if err := e.svc.Identity.CheckSecretAnswers(ctx, id, nil); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("no answers set: %v, want a conflict", err)
	}
	set := []identity.SecretAnswerInput{{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: "St. Mary's"}}
	if _, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, identity.SecretAnswersInput{Answers: set}); err != nil {
		t.Fatal(err)
	}
	// Case and spacing do not matter.
	right := []identity.SecretAnswerInput{{Question: q[0], Answer: " rex"}, {Question: q[1], Answer: "GHENT"}, {Question: q[2], Answer: "st.  mary's "}}
	if err := e.svc.Identity.CheckSecretAnswers(ctx, id, right); err != nil {
		t.Fatalf("right answers refused: %v", err)
	}
	for name, in := range map[string][]identity.SecretAnswerInput{
		"one wrong":        {{Question: q[0], Answer: "rex"}, {Question: q[1], Answer: "Brussels"}, {Question: q[2], Answer: "st. mary's"}},
		"all wrong":        {{Question: q[0], Answer: "x"}, {Question: q[1], Answer: "y"}, {Question: q[2], Answer: "z"}},
		"too few":          {{Question: q[0], Answer: "rex"}, {Question: q[1], Answer: "ghent"}},
		"unchosen":         {{Question: q[0], Answer: "rex"}, {Question: q[1], Answer: "ghent"}, {Question: q[3], Answer: "dune"}},
		"the same twice":   {{Question: q[0], Answer: "rex"}, {Question: q[0], Answer: "rex"}, {Question: q[1], Answer: "ghent"}},
		"another's answer": {{Question: q[0], Answer: "Rex"}, {Question: q[1], Answer: "Ghent"}, {Question: q[2], Answer: ""}},
	} {
		if err := e.svc.Identity.CheckSecretAnswers(ctx, id, in); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Bob's answers are his own.
	if err := e.svc.Identity.CheckSecretAnswers(ctx, e.bob.User.ID, right); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("alice's answers for bob: %v", err)
	}
}
