package policy

import (
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Bounds of Authentication → Secret questions.
const (
	// MaxSecretQuestions keeps the Self-Service form one screen long.
	MaxSecretQuestions = 20
	// MaxQuestionLength is what a form label can show.
	MaxQuestionLength = 200
	// MaxAnswerLength bounds what is hashed (identity.SetMySecretAnswers).
	MaxAnswerLength = 200
	// MaxWrongBeforeLock bounds the lock: beyond it the answers are
	// hardly locked at all (the login throttle still slows guessing).
	MaxWrongBeforeLock = 100
)

// checkSecretQuestions validates the secret questions: 1 to
// MaxSecretQuestions distinct, non-empty questions; Asked between 1 and
// their number (every user answers Asked of them and is asked as many);
// a minimum answer length of 1 to MaxAnswerLength; a lock after 1 to
// MaxWrongBeforeLock wrong answers in a row.
func checkSecretQuestions(q *lanyard.SecretQuestionSettings) *lanyard.Error {
	if len(q.Questions) == 0 || len(q.Questions) > MaxSecretQuestions {
		return invalid(labelSecretQ, "give 1 to %d questions", MaxSecretQuestions)
	}
	seen := map[string]bool{}
	for i, text := range q.Questions {
		t := strings.TrimSpace(text)
		if t == "" || t != text || utf8.RuneCountInString(t) > MaxQuestionLength {
			return invalid(labelSecretQ, "question %d must be 1 to %d characters without leading or trailing spaces", i+1, MaxQuestionLength)
		}
		k := strings.ToLower(t)
		if seen[k] {
			return invalid(labelSecretQ, "the question %q is listed twice", t)
		}
		seen[k] = true
	}
	if q.Asked < 1 || q.Asked > len(q.Questions) {
		return invalid(labelSecretQ+" → Number asked", "must be 1 to %d (the number of questions)", len(q.Questions))
	}
	if q.MinAnswerLength < 1 || q.MinAnswerLength > MaxAnswerLength {
		return invalid(labelSecretQ+" → Minimum answer length", "must be 1 to %d", MaxAnswerLength)
	}
	if q.WrongBeforeLock < 1 || q.WrongBeforeLock > MaxWrongBeforeLock {
		return invalid(labelSecretQ+" → Wrong answers before lock", "must be 1 to %d", MaxWrongBeforeLock)
	}
	return nil
}
