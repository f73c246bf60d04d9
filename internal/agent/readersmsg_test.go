package agent

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// The server gets the whole reader list once, then only what changed:
// new readers, changed cards (presence, ATR, serial, PIN status) and gone
// readers; no message when nothing changed, except a card whose PIN
// status is to be reported again (after a server session on it).
func TestReadersMessage(t *testing.T) {
	a := agentproto.Reader{Name: "A", Present: true, ATR: []byte{0x3B, 0}, Serial: "1"}
	b := agentproto.Reader{Name: "B"}
	first := readersMessage(nil, nil, nil)
	if first.Type != agentproto.TypeSnapshot || first.Readers == nil || len(first.Readers) != 0 {
		t.Fatalf("first message %+v, want an empty snapshot", first)
	}
	if err := first.Validate(); err != nil {
		t.Fatal(err)
	}
	sent := map[string]agentproto.Reader{"A": a, "B": b}
	if m := readersMessage(sent, []agentproto.Reader{a, b}, nil); m != nil {
		t.Fatalf("no change sent %+v", m)
	}
	a2 := a
	a2.Serial = "2"
	c := agentproto.Reader{Name: "C", Present: true, ATR: []byte{0x3B, 1}}
	m := readersMessage(sent, []agentproto.Reader{a2, c}, nil)
	if m.Type != agentproto.TypeReaders || len(m.Readers) != 2 || m.Readers[0].Serial != "2" || m.Readers[1].Name != "C" || !slices.Equal(m.Gone, []string{"B"}) {
		t.Fatalf("change %+v", m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	a3 := a
	a3.ATR = []byte{0x3B, 2}
	if m := readersMessage(sent, []agentproto.Reader{a3, b}, nil); m == nil || len(m.Readers) != 1 || m.Gone != nil {
		t.Fatalf("ATR change %+v", m)
	}
	pinned := a
	pinned.PIN = &agentproto.PINStatus{Left: 3, Total: 3, PUKLeft: 3}
	if m := readersMessage(sent, []agentproto.Reader{pinned, b}, nil); m == nil || len(m.Readers) != 1 || m.Readers[0].PIN == nil {
		t.Fatalf("PIN status change %+v", m)
	}
	sent["A"] = pinned
	if m := readersMessage(sent, []agentproto.Reader{pinned, b}, nil); m != nil {
		t.Fatalf("the same PIN status sent again: %+v", m)
	}
	m = readersMessage(sent, []agentproto.Reader{pinned, b}, map[string]bool{"A": true, "B": true})
	if m == nil || len(m.Readers) != 1 || m.Readers[0].Name != "A" || m.Readers[0].PIN == nil {
		t.Fatalf("a PIN status to report again: %+v (B has none to repeat)", m)
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
}

// The agent sends a card's PIN status only to a server whose 101 answer
// says it takes it: an older server drops a connection whose frames carry
// a field it does not know.
func TestPINStatusOnlyToServersThatTakeIt(t *testing.T) {
	h := http.Header{}
	if serverTakes(h, agentproto.ServerFeaturePINStatus) {
		t.Error("a server without the header takes the PIN status")
	}
	h.Add(agentproto.ServerFeaturesHeader, "other, "+agentproto.ServerFeaturePINStatus)
	if !serverTakes(h, agentproto.ServerFeaturePINStatus) {
		t.Error("a server listing pin_status does not take it")
	}
	rs := []agentproto.Reader{{Name: "A", Present: true, Serial: "1", PIN: &agentproto.PINStatus{Left: 1, PUKLeft: -1}}}
	m := readersMessage(nil, withoutPIN(rs), nil)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "pin") || rs[0].PIN == nil {
		t.Errorf("without the feature the agent sends %s (inventory's status kept: %v)", b, rs[0].PIN != nil)
	}
}
