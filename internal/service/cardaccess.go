package service

import (
	"sync"

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

// cardAccess holds the CardAccess, set once the hub exists (it is built
// after the service because it uses the service).
type cardAccess struct {
	mu sync.RWMutex
	ca CardAccess
}

// SetCardAccess connects the service to the workstations' cards.
func (s *Service) SetCardAccess(ca CardAccess) {
	s.cards.mu.Lock()
	defer s.cards.mu.Unlock()
	s.cards.ca = ca
}

func (s *Service) cardAccess() CardAccess {
	s.cards.mu.RLock()
	defer s.cards.mu.RUnlock()
	return s.cards.ca
}

// agentsOf gives the workstations capability the connected agents, once
// SetCardAccess connected them (workstations.Agents).
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
