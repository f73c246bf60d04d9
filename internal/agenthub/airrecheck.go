package agenthub

import (
	"context"
	"slices"
)

// recheckAirSessions ends the open AirCard sessions of conns that are no
// longer allowed (Workstations.AirCardSessionsRefused, one batched check
// for all of them). A computer removed from an AirCard, or the AirCard
// disabled or revoked, ends its sessions at once through the change's
// notice (AirCardsChanged); should the notice be lost, this recheck,
// every RecheckInterval, is the backstop, so a laptop's open session
// does not go on signing with an AirCard it may no longer use.
func (h *Hub) recheckAirSessions(ctx context.Context, conns map[int64]*agentConn) {
	open := map[int64][]string{}
	for id, c := range conns {
		c.mu.Lock()
		for _, a := range c.air {
			if !slices.Contains(open[id], a.serial) {
				open[id] = append(open[id], a.serial)
			}
		}
		c.mu.Unlock()
	}
	if len(open) == 0 {
		return
	}
	refused, err := h.ws.AirCardSessionsRefused(ctx, open)
	if err != nil && ctx.Err() == nil {
		h.log.Warn("AirCard session recheck failed for some workstations", "err", err)
	}
	for id, serials := range refused {
		c := conns[id]
		if c == nil {
			continue
		}
		var drop []*airSession
		c.mu.Lock()
		for sid, a := range c.air {
			if slices.Contains(serials, a.serial) {
				drop = append(drop, a)
				delete(c.air, sid)
			}
		}
		c.mu.Unlock()
		for _, a := range drop {
			h.log.Info("AirCard no longer allowed on this workstation; ending its session", "workstation", id, "serial", a.serial)
			a.sess.Close()
		}
	}
}
