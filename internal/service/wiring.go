package service

import (
	"context"
	"crypto"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
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

var _ pki.RequestValidity = requestHook{}

// MaxValidityDays bounds a temporary replacement card's approved
// certificates (pki.RequestValidity).
func (h requestHook) MaxValidityDays(tx lanyard.Tx, r *lanyard.CertRequest) (int, error) {
	return h.s.Cards.RequestHook().MaxValidityDays(tx, r)
}

// secretAnswersOf lets the card workflows check a user's secret answers
// (cardops.SecretAnswers) with the identity capability.
type secretAnswersOf struct{ id *identity.Identity }

func (a secretAnswersOf) CheckSecretAnswers(ctx context.Context, p *lanyard.Principal, userID int64, answers []cardops.SecretAnswer) error {
	in := identity.SecretCheck{UserID: userID, Answers: make([]identity.SecretAnswerInput, len(answers))}
	for i, x := range answers {
		in.Answers[i] = identity.SecretAnswerInput{Question: x.Question, Answer: x.Answer}
	}
	if p != nil {
		in.RemoteAddr = p.RemoteAddr
		if p.User != nil && p.User.ID != userID {
			in.Actor = p // an operator reading the user's answers
		}
	}
	return a.id.CheckAnswers(ctx, in)
}

// AgentUnblock is the online unblock of workstations' command lines
// (agenthub.Unblocker): the workstation's owner answers their secret
// questions and the card workflows reset the PIN through the agent's
// relay (cardops.ResetPINAt). Give it to the hub with SetUnblocker.
type AgentUnblock struct{ s *Service }

// AgentUnblock returns the service's AgentUnblock.
func (s *Service) AgentUnblock() AgentUnblock { return AgentUnblock{s} }

// owner is the principal of ws's owner.
func (a AgentUnblock) owner(ctx context.Context, ws *lanyard.Workstation) (*lanyard.Principal, error) {
	if ws.OwnerID == 0 {
		return nil, lanyard.Errorf(lanyard.EForbidden, "workstation %s has no owner; its cards are unblocked in Self-Service", ws.Name)
	}
	var u *lanyard.User
	if err := a.s.store.View(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByID(ws.OwnerID); return }); err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, lanyard.Errorf(lanyard.EForbidden, "the owner of workstation %s is disabled", ws.Name)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}, nil
}

// UnblockQuestions are the secret questions ws's owner chose.
func (a AgentUnblock) UnblockQuestions(ctx context.Context, ws *lanyard.Workstation) ([]string, error) {
	p, err := a.owner(ctx, ws)
	if err != nil {
		return nil, err
	}
	info, err := a.s.Identity.MySecretQuestions(ctx, p)
	if err != nil {
		return nil, err
	}
	if !info.Set {
		return nil, lanyard.Errorf(lanyard.EConflict, "%s has set no secret answers: the PIN cannot be reset online; ask the help desk", p.User.Login)
	}
	return info.Chosen, nil
}

// Unblock resets the PIN of the owner's card connected at ws.
func (a AgentUnblock) Unblock(ctx context.Context, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error) {
	p, err := a.owner(ctx, ws)
	if err != nil {
		return nil, err
	}
	rin := cardops.ResetPINInput{NewPIN: in.NewPIN}
	for _, x := range in.Answers {
		rin.Answers = append(rin.Answers, cardops.SecretAnswer{Question: x.Question, Answer: x.Answer})
	}
	res, err := a.s.Cards.ResetPINAt(ctx, p, ws.ID, in.Serial, rin)
	if err != nil {
		return nil, err
	}
	return &agentproto.Unblocked{Serial: res.Card.Serial, RandomPIN: res.RandomPIN}, nil
}

// archiveOf lets card issue archive the keys of archive-key templates
// (cardops.KeyArchive) without importing the archive capability.
type archiveOf struct{ *archive.Archive }

func (a archiveOf) GenerateArchived(ctx context.Context, p *lanyard.Principal, ownerID, cardID int64, tpl *lanyard.Template, alg lanyard.KeyAlgorithm) (*lanyard.ArchivedKey, crypto.Signer, error) {
	return a.Generate(ctx, p, archive.Request{OwnerID: ownerID, CardID: cardID, Template: tpl, Algorithm: alg})
}

// OpenForCardTx opens archived keys for recovery onto their owner's card
// (cardops.KeyArchive).
func (a archiveOf) OpenForCardTx(tx lanyard.Tx, ownerID int64, ids []int64) ([]cardops.RecoveredKey, error) {
	ks, err := a.Archive.OpenForCardTx(tx, ownerID, ids)
	out := make([]cardops.RecoveredKey, len(ks))
	for i, k := range ks {
		out[i] = cardops.RecoveredKey{Key: k.Key, Private: k.Private, Certificate: k.Certificate}
	}
	return out, err
}

// leaverCards lets the directory sync hand a leaver's cards to the card
// workflows (directory.Cards, cardops.Cards.LeaveTx). The directory
// capability is built before the card workflows (identity checks
// directory users' passwords through it), so this finds them when it is
// called: New builds them before anything can sync.
type leaverCards struct{ s *Service }

func (l leaverCards) LeaveTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u *lanyard.User, action lanyard.LeaverAction) ([]string, func(), error) {
	left, err := l.s.Cards.LeaveTx(ctx, tx, p, u, action)
	if err != nil {
		return nil, nil, err
	}
	serials := make([]string, len(left.Cards))
	for i, c := range left.Cards {
		serials[i] = c.Serial
	}
	// The agents of a leaver's AirCards hear of it through the change
	// notice LeaveTx sent in tx: nothing is left to do after the commit.
	return serials, nil, nil
}

// scimLeavers lets the SCIM capability hand a deactivated user's cards
// to the card workflows, with the leaver action of the policy that
// applied to the user before the deactivation (before: its groups
// intact, which a SCIM DELETE empties; Effective gives a disabled user
// none), else disable: the same rule as the directory
// sync's, whose sources add their own default in between.
type scimLeavers struct{ s *Service }

func (l scimLeavers) LeaveTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, u, before *lanyard.User) (func(context.Context), error) {
	enabled := *before
	enabled.Disabled = false
	action := lanyard.LeaverAction("")
	switch pol, err := l.s.Catalog.PolicyFor(tx, &enabled); {
	case err == nil:
		action = pol.Settings.Workflow.LeaverAction
	case !lanyard.IsCode(err, lanyard.ENotFound):
		return nil, err
	}
	// The agents of a leaver's AirCards hear of it through the change
	// notice LeaveTx sent in tx: nothing is left to do after the commit.
	_, err := l.s.Cards.LeaveTx(ctx, tx, p, u, action.Or(lanyard.LeaverDisable))
	return nil, err
}
