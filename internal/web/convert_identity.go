package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// Converters between the identity capability's types and their wire
// form (internal/apiv1). The types have the same fields, so a Go
// conversion does it; these pass the service's error through.

func totpInfo(v *identity.TOTPInfo, err error) (*apiv1.TOTPInfo, error) {
	return (*apiv1.TOTPInfo)(v), err
}

func totpSetup(v *identity.TOTPSetup, err error) (*apiv1.TOTPSetup, error) {
	return (*apiv1.TOTPSetup)(v), err
}

func tokenSettings(v identity.TokenSettings, err error) (apiv1.TokenSettings, error) {
	return apiv1.TokenSettings(v), err
}

func secretQuestions(v *identity.SecretQuestionsInfo, err error) (*apiv1.SecretQuestionsInfo, error) {
	return (*apiv1.SecretQuestionsInfo)(v), err
}

// secretAnswers converts the request body to the capability's input.
func secretAnswers(in apiv1.SecretAnswersInput) identity.SecretAnswersInput {
	out := identity.SecretAnswersInput{Answers: make([]identity.SecretAnswerInput, len(in.Answers))}
	for i, a := range in.Answers {
		out.Answers[i] = identity.SecretAnswerInput(a)
	}
	if in.Answers == nil {
		out.Answers = nil
	}
	return out
}
