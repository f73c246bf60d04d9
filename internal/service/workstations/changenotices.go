package workstations

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Change notices (docs/architecture.md, "Change notices"): a pairing
// confirmed or revoked on any replica wakes the agent's waiting poll on
// whichever replica it waits, and a change to the AirCards a workstation
// may use reaches its agent on whichever replica holds its connection
// (Agents.AirCardsChanged, for the workstations connected here). The
// notices are sent in the changing transaction, so this process hears
// its own changes through them too, right after they commit.

// Follow acts on the notices of n until cancel is called: pairing polls
// wake, agents read their AirCards again. On a loss every waiting poll
// reads its status again (the hub pushes every AirCard list itself).
func (s *Workstations) Follow(n lanyard.Notices) (cancel func()) {
	stop1 := n.Subscribe(lanyard.NoticePairing, func(payload string) {
		for _, id := range lanyard.ParseIDs(payload) {
			s.pairingSettled(id)
		}
	})
	stop2 := n.Subscribe(lanyard.NoticeAirCards, func(payload string) {
		if ids := lanyard.ParseIDs(payload); len(ids) > 0 && s.agents != nil {
			s.agents.AirCardsChanged(ids...)
		}
	})
	stop3 := n.OnLost(s.allPairingsSettled)
	return func() { stop1(); stop2(); stop3() }
}
