package agenthub

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Follow acts on change notices (docs/architecture.md, "Change notices")
// until cancel is called: a workstation revoked on any replica loses its
// connection here at once, not at the next recheck. NOTIFY is not
// durable, so when notices may have been lost every connected
// workstation is read again (the recheck, which drops the revoked) and
// every workstation is sent its AirCards again; the periodic recheck
// (RecheckInterval) stays as the backstop. AirCard list changes reach
// the hub through the workstations capability (AirCardsChanged).
func (h *Hub) Follow(n lanyard.Notices) (cancel func()) {
	stop1 := n.Subscribe(lanyard.NoticeWorkstationRevoked, func(payload string) {
		for _, id := range lanyard.ParseIDs(payload) {
			h.workstationRevoked(id)
		}
	})
	stop2 := n.OnLost(func() {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), RecheckInterval)
			defer cancel()
			h.recheck(ctx)
			h.pushAllAirCards()
		}()
	})
	return func() { stop1(); stop2() }
}

// revokedFor is how long a revocation notice is remembered for the
// connections being admitted meanwhile: longer than any connect takes
// from its admission (AgentConnected) to its registration, and than
// RecheckInterval, which catches the rest.
const revokedFor = 2 * RecheckInterval

// workstationRevoked drops workstation id's connection, and remembers the
// revocation for revokedFor: an agent admitted before the revocation
// committed may register its connection only after this notice, which
// would then find nothing to drop (serve checks isRevokedLocked under
// the same lock it registers under, so one of the two sees the other).
func (h *Hub) workstationRevoked(id int64) {
	now := time.Now()
	h.mu.Lock()
	for w, at := range h.revoked {
		if now.Sub(at) > revokedFor {
			delete(h.revoked, w)
		}
	}
	h.revoked[id] = now
	c := h.conns[id]
	h.mu.Unlock()
	if c != nil {
		h.log.Info("workstation revoked; dropping its connection", "workstation", id)
		c.pc.Close()
	}
}

// isRevokedLocked says whether workstation id's revocation notice arrived
// within revokedFor. h.mu must be held.
func (h *Hub) isRevokedLocked(id int64) bool {
	at, ok := h.revoked[id]
	return ok && time.Since(at) <= revokedFor
}
