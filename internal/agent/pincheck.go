package agent

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
)

// The agent tells the server each card's PIN status (tries left, PIN
// blocked) so that operators see a blocked PIN before the user calls
// (docs/lifecycle.md, "PIN blocked cards"). It reads it without spending
// a try (piv.Card.ReadPINStatus): when the card arrives (with its serial),
// after each of the server's sessions on the card (a PIN reset or change
// through Lanyard), and every PINCheck on a workstation, since a user's
// wrong PINs in other applications leave no other trace. A check costs
// three short APDUs on a shared connection; a card in use (an exclusive
// session) is skipped until the next round.

// DefaultPINCheck is how often a workstation agent reads the PIN status
// of its cards again.
const DefaultPINCheck = time.Minute

// cardPINStatus reads the PIN status of the card on t, nil when the card
// does not say. With selected, the PIV application is already selected
// (by cardSerial); without, VERIFY is tried first as the card stands, so
// that an application that verified the PIN keeps its session (selecting
// again resets the security status, SP 800-73-4 Part 2 3.1.1), and only
// a card that does not answer gets SELECT.
func cardPINStatus(ctx context.Context, t Card, selected bool) *agentproto.PINStatus {
	c, err := piv.New(t, piv.Config{Rand: rand.Reader})
	if err != nil {
		return nil
	}
	st, err := c.ReadPINStatus(ctx)
	if err != nil && !selected {
		if _, err = c.Select(ctx); err == nil {
			st, err = c.ReadPINStatus(ctx)
		}
	}
	if err != nil {
		return nil
	}
	return &agentproto.PINStatus{Left: st.PINLeft, Total: st.PINTotal, PUKLeft: st.PUKLeft}
}

// checkPIN reads the PIN status of the card gen in reader again and
// records it when it changed. A change of PIN status is no new card: the
// generation stays, and sessions on the card go on. With again (after a
// server's session on the card) the status is reported even unchanged:
// the session may have made the card known to the server (an issue),
// which then records the status it ignored at the card's arrival.
func (inv *inventory) checkPIN(reader string, gen uint64, again bool) {
	l := inv.lock(reader)
	l.Lock()
	pin := func() *agentproto.PINStatus {
		card, err := inv.readers.Connect(reader, false)
		if err != nil {
			return nil // gone, or busy with a session: the next check sees it
		}
		defer card.Close()
		ctx, cancel := context.WithTimeout(context.Background(), serialTimeout)
		defer cancel()
		return cardPINStatus(ctx, card, false)
	}()
	l.Unlock()
	if pin == nil {
		return
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	r, ok := inv.list[reader]
	if !ok || inv.gen[reader] != gen || !r.Present || r.Serial == "" {
		return
	}
	if samePIN(r.PIN, pin) {
		if !again {
			return
		}
		inv.again[reader] = true
	}
	r.PIN = pin
	inv.list[reader] = r
	inv.notifyLocked()
}

// takeAgain returns the readers whose unchanged PIN status is to be
// reported again (checkPIN), and forgets them.
func (inv *inventory) takeAgain() map[string]bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if len(inv.again) == 0 {
		return nil
	}
	again := inv.again
	inv.again = map[string]bool{}
	return again
}

// checkPINs checks every card whose serial is known, one after the
// other, every interval until ctx ends.
func (inv *inventory) checkPINs(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		type card struct {
			reader string
			gen    uint64
		}
		var cards []card
		inv.mu.Lock()
		for name, r := range inv.list {
			if r.Present && r.Serial != "" {
				cards = append(cards, card{name, inv.gen[name]})
			}
		}
		inv.mu.Unlock()
		for _, c := range cards {
			if ctx.Err() != nil {
				return
			}
			inv.checkPIN(c.reader, c.gen, false)
		}
	}
}

// samePIN reports that a and b say the same.
func samePIN(a, b *agentproto.PINStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// pinCheck is the agent's PINCheck interval, 0 for none.
func (a *Agent) pinCheck() time.Duration {
	switch {
	case a.cfg.Role != "" || a.cfg.PINCheck < 0:
		return 0
	case a.cfg.PINCheck == 0:
		return DefaultPINCheck
	}
	return a.cfg.PINCheck
}

// serverTakes reports that the server's 101 answer lists feature in
// agentproto.ServerFeaturesHeader: an older server drops a connection
// whose frames carry a field it does not know (Reader.PIN).
func serverTakes(h http.Header, feature string) bool {
	for _, v := range h.Values(agentproto.ServerFeaturesHeader) {
		for _, f := range strings.Split(v, ",") {
			if strings.TrimSpace(f) == feature {
				return true
			}
		}
	}
	return false
}

// withoutPIN is readers without their PIN status, for a server that does
// not take it.
func withoutPIN(readers []agentproto.Reader) []agentproto.Reader {
	out := make([]agentproto.Reader, len(readers))
	for i, r := range readers {
		r.PIN = nil
		out[i] = r
	}
	return out
}
