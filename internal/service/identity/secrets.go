package identity

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// SecretQuestions are the questions users choose from. Answers are kept
// for unlocking a card online (self-service PIN unblock, issue 16; until
// then nothing reads them and the pages say so); they are normalised (trimmed,
// lower case, inner spaces collapsed) and stored as argon2id hashes only.
var SecretQuestions = []string{
	"What was the name of your first pet?",
	"In which city were you born?",
	"What was the name of your first school?",
	"What is your favourite book?",
	"What was the make of your first car?",
	"What is your mother's maiden name?",
}

// MinSecretAnswers is how many questions a user answers.
const MinSecretAnswers = 3

// SecretQuestionsInfo says whether the user has set answers, and offers
// the questions.
type SecretQuestionsInfo struct {
	Set       bool
	Chosen    []string
	Questions []string
	Required  int
}

// SecretAnswerInput is one answer.
type SecretAnswerInput struct {
	Question string
	Answer   string
}

// SecretAnswersInput sets the caller's answers.
type SecretAnswersInput struct {
	Answers []SecretAnswerInput
}

// MySecretQuestions returns the caller's secret question state.
func (s *Identity) MySecretQuestions(ctx context.Context, p *lanyard.Principal) (*SecretQuestionsInfo, error) {
	var answers []lanyard.SecretAnswer
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { answers, err = tx.SecretAnswers(p.User.ID); return }); err != nil {
		return nil, err
	}
	info := &SecretQuestionsInfo{Set: len(answers) > 0, Chosen: []string{}, Questions: slices.Clone(SecretQuestions), Required: MinSecretAnswers}
	for _, a := range answers {
		info.Chosen = append(info.Chosen, a.Question)
	}
	return info, nil
}

// SetMySecretAnswers replaces the caller's answers.
func (s *Identity) SetMySecretAnswers(ctx context.Context, p *lanyard.Principal, in SecretAnswersInput) (*SecretQuestionsInfo, error) {
	if len(in.Answers) < MinSecretAnswers || len(in.Answers) > len(SecretQuestions) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "answer %d to %d different questions", MinSecretAnswers, len(SecretQuestions))
	}
	var out []lanyard.SecretAnswer
	seen := map[string]bool{}
	for _, a := range in.Answers {
		if !slices.Contains(SecretQuestions, a.Question) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "%q is not one of the offered questions", a.Question)
		}
		if seen[a.Question] {
			return nil, lanyard.Errorf(lanyard.EInvalid, "question %q is answered twice", a.Question)
		}
		seen[a.Question] = true
		norm := NormalizeAnswer(a.Answer)
		if utf8.RuneCountInString(norm) < 3 || len(norm) > 200 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the answer to %q must be 3 to 200 characters", a.Question)
		}
		h, err := auth.HashPassword(ctx, norm, s.rand)
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "hashing the answer failed")
		}
		out = append(out, lanyard.SecretAnswer{Question: a.Question, AnswerHash: h})
	}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "user.secret_questions", "user", p.User.Login, map[string]any{"questions": len(out)})
	}, func(tx lanyard.Tx) error { return tx.SetSecretAnswers(p.User.ID, out) })
	if err != nil {
		return nil, err
	}
	return s.MySecretQuestions(ctx, p)
}

// NormalizeAnswer makes answers compare as people mean them: case,
// surrounding and repeated spaces do not matter.
func NormalizeAnswer(a string) string {
	return strings.ToLower(strings.Join(strings.Fields(a), " "))
}
