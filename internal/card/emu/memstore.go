package emu

import "sync"

// MemoryStore is a StateStore in memory: the default of a Card, and the
// way tests restore a card (give a second Card the first one's store). The
// zero value is an empty store. It is safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	state *State
	saves int
}

// Load returns a copy of the stored state, or ErrNoState.
func (m *MemoryStore) Load() (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return nil, ErrNoState
	}
	return m.state.Clone(), nil
}

// Save stores a copy of s.
func (m *MemoryStore) Save(s *State) error {
	c := s.Clone()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = c
	m.saves++
	return nil
}

// Saves returns how many times Save was called, for tests that check that
// a change was persisted.
func (m *MemoryStore) Saves() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves
}
