package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// cardAccess is the card access New was given (Config.Agents), or nil.
func (s *Service) cardAccess() lanyard.CardAccess { return s.cards }

// agentsOf gives the workstations capability the connected agents
// (workstations.Agents): the card access that New stores right after it
// built the workstations and, with them, the hub (Config.Agents). The
// two need each other — the hub admits agents through the workstations,
// which tell the hub when an AirCard list changed and ask it which
// computers are online — so one of them gets the other after both
// exist; this indirection, set inside New before anything can call it,
// is that one place.
type agentsOf struct{ s *Service }

func (a agentsOf) WorkstationState(id int64) (lanyard.WorkstationState, bool) {
	if ca := a.s.cardAccess(); ca != nil {
		return ca.WorkstationState(id)
	}
	return lanyard.WorkstationState{}, false
}

func (a agentsOf) AirCardsChanged(ids ...int64) {
	if ca := a.s.cardAccess(); ca != nil {
		ca.AirCardsChanged(ids...)
	}
}

// requestHook gives the CA queue the card issue's side of its decisions
// (pki.RequestHook), which the card workflows implement
// (cardops.RequestHook). The card workflows need the pki capability, and
// the pki capability this hook, so the hook finds the card workflows
// when it is called: New builds them before anything can decide a
// request.
type requestHook struct{ s *Service }

func (h requestHook) CheckApprove(tx lanyard.Tx, p *lanyard.Principal, r *lanyard.CertRequest, tpl *lanyard.Template) error {
	return h.s.Cards.RequestHook().CheckApprove(tx, p, r, tpl)
}

func (h requestHook) Decided(tx lanyard.Tx, r *lanyard.CertRequest, cert *lanyard.Certificate) (func(context.Context), error) {
	return h.s.Cards.RequestHook().Decided(tx, r, cert)
}

// secretAnswersOf lets the card workflows check a user's secret answers
// (cardops.SecretAnswers) with the identity capability.
type secretAnswersOf struct{ id *identity.Identity }

func (a secretAnswersOf) CheckSecretAnswers(ctx context.Context, userID int64, answers []cardops.SecretAnswer) error {
	in := make([]identity.SecretAnswerInput, len(answers))
	for i, x := range answers {
		in[i] = identity.SecretAnswerInput{Question: x.Question, Answer: x.Answer}
	}
	return a.id.CheckSecretAnswers(ctx, userID, in)
}
