package agenthub

import (
	"net"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's PIN status reaches the card workflows with its arrival, and
// afterwards with every report of it (PINOnly) in a change message; a
// snapshot of a card already known or a card removed queue nothing.
func TestPINStatusReports(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	pc := agentproto.NewConn(a, nil, 0)
	defer pc.Close()
	h := New(Config{})
	c := newAgentConn(h, &lanyard.Workstation{ID: 4, Name: "pc"}, pc)
	card := func(pin *agentproto.PINStatus) []agentproto.Reader {
		return []agentproto.Reader{{Name: "r", Present: true, ATR: []byte{0x3B}, Serial: "42", PIN: pin}}
	}
	next := func() *lanyard.CardArrival {
		select {
		case got := <-h.Arrivals():
			return &got
		default:
			return nil
		}
	}
	three := &agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3}
	if err := c.update(card(three), nil, true); err != nil {
		t.Fatal(err)
	}
	got := next()
	if got == nil || got.PINOnly || got.WorkstationID != 4 || got.Reader.Serial != "42" || got.Reader.PIN == nil ||
		*got.Reader.PIN != (lanyard.PINState{TriesLeft: 3, TriesTotal: 3, PUKTriesLeft: 3}) {
		t.Fatalf("arrival %+v", got)
	}
	// The agent repeats a reader only to report its PIN status again
	// (after a session on the card): passed on, for the card workflows to
	// record if it is news to them.
	if err := c.update(card(&agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3}), nil, false); err != nil {
		t.Fatal(err)
	}
	if got := next(); got == nil || !got.PINOnly {
		t.Fatalf("the status reported again: %+v", got)
	}
	// A snapshot (a reconnection) of the same card is no report: the card
	// is not new, its status not either.
	if err := c.update(card(&agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3}), nil, true); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != nil {
		t.Fatalf("a snapshot of the same card queued %+v", got)
	}
	if err := c.update(card(&agentproto.PINStatus{Left: 0, Total: 3, PUKLeft: 3}), nil, false); err != nil {
		t.Fatal(err)
	}
	got = next()
	if got == nil || !got.PINOnly || got.Reader.PIN == nil || !got.Reader.PIN.Blocked() {
		t.Fatalf("blocked: %+v", got)
	}
	if st := c.state(); len(st.Readers) != 1 || st.Readers[0].PIN == nil || !st.Readers[0].PIN.Blocked() {
		t.Fatalf("workstation state %+v", st.Readers)
	}
	if err := c.update([]agentproto.Reader{{Name: "r"}}, nil, false); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != nil {
		t.Fatalf("a removed card queued %+v", got)
	}
}
