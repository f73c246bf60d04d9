package service

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The card-access port is the domain's (lanyard.CardAccess); these aliases
// keep the service's names until the card workflows move to their own
// package.
type (
	CardAccess           = lanyard.CardAccess
	CardSession          = lanyard.CardSession
	WorkstationState     = lanyard.WorkstationState
	ReaderState          = lanyard.Reader
	TPMState             = lanyard.TPMState
	SoftwareKey          = lanyard.SoftwareKey
	SoftwareStoreRequest = lanyard.SoftwareStoreRequest
	SoftwareStored       = lanyard.SoftwareStored
)

// Software store scopes (lanyard.ScopeMachine, lanyard.ScopeUser).
const (
	ScopeMachine = lanyard.ScopeMachine
	ScopeUser    = lanyard.ScopeUser
)

// cardAccess is the card access New was given (Config.Agents), or nil.
func (s *Service) cardAccess() CardAccess { return s.cards }

// agentsOf gives the workstations capability the connected agents
// (workstations.Agents): the card access that New stores right after it
// built the workstations and, with them, the hub (Config.Agents). The
// two need each other — the hub admits agents through the workstations,
// which tell the hub when an AirCard list changed and ask it which
// computers are online — so one of them gets the other after both
// exist; this indirection, set inside New before anything can call it,
// is that one place.
type agentsOf struct{ s *Service }

func (a agentsOf) WorkstationState(id int64) (WorkstationState, bool) {
	if ca := a.s.cardAccess(); ca != nil {
		return ca.WorkstationState(id)
	}
	return WorkstationState{}, false
}

func (a agentsOf) AirCardsChanged(ids ...int64) {
	if ca := a.s.cardAccess(); ca != nil {
		ca.AirCardsChanged(ids...)
	}
}
