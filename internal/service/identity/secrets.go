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

// CheckSecretAnswers checks a user's answers to their secret questions,
// as a PIN reset or an offline unblock asks them (docs/lifecycle.md):
// every answer given must match, and at least MinSecretAnswers must be
// given, each to a different question the user chose. It does not say
// which answer was wrong. Every given answer is verified, right or wrong,
// so the time taken does not tell either; the argon2id comparison itself
// is constant-time (auth.VerifyPassword).
func (s *Identity) CheckSecretAnswers(ctx context.Context, userID int64, answers []SecretAnswerInput) error {
	var stored []lanyard.SecretAnswer
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { stored, err = tx.SecretAnswers(userID); return }); err != nil {
		return err
	}
	if len(stored) == 0 {
		return lanyard.Errorf(lanyard.EConflict, "no secret answers are set for this account; the user sets them in Self-Service")
	}
	if len(answers) < MinSecretAnswers {
		return lanyard.Errorf(lanyard.EInvalid, "answer %d of the secret questions", MinSecretAnswers)
	}
	hashes := map[string]string{}
	for _, a := range stored {
		hashes[a.Question] = a.AnswerHash
	}
	seen := map[string]bool{}
	ok := true
	for _, a := range answers {
		h, known := hashes[a.Question]
		if !known || seen[a.Question] {
			return lanyard.Errorf(lanyard.EInvalid, "%q is not one of this user's questions, or is answered twice", a.Question)
		}
		seen[a.Question] = true
		match, err := auth.VerifyPassword(ctx, h, NormalizeAnswer(a.Answer))
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "checking the answer failed")
		}
		ok = ok && match
	}
	if !ok {
		return lanyard.Errorf(lanyard.EForbidden, "the answers do not match")
	}
	return nil
}
