package agenthub

import (
	"encoding/json"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A card's state goes to the agent as the agent protocol spells it, and
// the message validates (the agent drops a connection carrying one that
// does not); so does a reader's PIN status come into the domain's terms.
func TestWireCardStateAndPIN(t *testing.T) {
	for _, tc := range []struct {
		card *lanyard.Card
		want string
	}{
		{&lanyard.Card{ID: 1, Serial: "42", State: lanyard.CardDisabled}, `{"serial":"42","state":"disabled"}`},
		{&lanyard.Card{ID: 2, Serial: "43", State: lanyard.CardRevoked, RevocationReason: "lost"}, `{"serial":"43","state":"revoked","reason":"lost"}`},
	} {
		w := wireCardState(tc.card)
		if b, _ := json.Marshal(w); string(b) != tc.want {
			t.Errorf("%s: %s, want %s", tc.card.State, b, tc.want)
		}
		if err := (&agentproto.Message{Type: agentproto.TypeCardState, CardState: w}).Validate(); err != nil {
			t.Errorf("%s: %v", tc.card.State, err)
		}
	}
	r := reader(agentproto.Reader{Name: "r", Present: true, Serial: "42", PIN: &agentproto.PINStatus{Left: 0, Total: 3, PUKLeft: -1}})
	if r.PIN == nil || *r.PIN != (lanyard.PINState{TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: -1}) || !r.PIN.Blocked() {
		t.Errorf("reader's PIN status %+v", r.PIN)
	}
	if r := reader(agentproto.Reader{Name: "r"}); r.PIN != nil {
		t.Errorf("a reader without PIN status got %+v", r.PIN)
	}
}
