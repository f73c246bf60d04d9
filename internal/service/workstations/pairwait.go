package workstations

import "sync"

// pairingWaiters wake agents' pairing long polls (agentproto.PollWait)
// when their pairing is confirmed or revoked on any replica (the
// NoticePairing change notice, changenotices.go). Without
// them every waiting agent's poll reads the store and verifies its proof
// every half second: a mass enrolment of 10,000 agents spent two thirds
// of the server's CPU on that while the administrator was confirming.
type pairingWaiters struct {
	mu      sync.Mutex
	waiting map[int64]*pairingWaiter
}

type pairingWaiter struct {
	settled chan struct{}
	n       int // polls waiting
}

// PairingSettled returns a channel closed when workstation id's pairing
// is confirmed or revoked on any replica (its change notice arrived; a
// lost notice is seen by polling the status as well, less often), and
// release, which the caller calls when it stops waiting.
func (s *Workstations) PairingSettled(id int64) (settled <-chan struct{}, release func()) {
	p := &s.pairWaiters
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiting == nil {
		p.waiting = map[int64]*pairingWaiter{}
	}
	w := p.waiting[id]
	if w == nil {
		w = &pairingWaiter{settled: make(chan struct{})}
		p.waiting[id] = w
	}
	w.n++
	var once sync.Once
	return w.settled, func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if w.n--; w.n == 0 && p.waiting[id] == w {
				delete(p.waiting, id)
			}
		})
	}
}

// pairingSettled wakes the polls waiting on workstation id.
func (s *Workstations) pairingSettled(id int64) {
	p := &s.pairWaiters
	p.mu.Lock()
	defer p.mu.Unlock()
	if w := p.waiting[id]; w != nil {
		close(w.settled)
		delete(p.waiting, id)
	}
}

// allPairingsSettled wakes every waiting poll, to read its status again:
// change notices may have been lost.
func (s *Workstations) allPairingsSettled() {
	p := &s.pairWaiters
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, w := range p.waiting {
		close(w.settled)
		delete(p.waiting, id)
	}
}
