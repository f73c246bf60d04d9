package agenthub

import (
	"context"

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
			if h.live(id) != nil {
				h.log.Info("workstation revoked; dropping its connection", "workstation", id)
			}
			h.Disconnect(id)
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
