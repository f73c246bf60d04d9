package agenthub

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The hub's conversions from the workstations capability's domain types
// give the agent exactly the JSON of the agent protocol: every pairing
// state is spelled as agentproto spells it, the certificate and chain only
// once active, and an aircards list keeps its order and is bounded by
// agentproto.MaxAirCards (which Message.Validate enforces on the agent).
func TestWireConversions(t *testing.T) {
	wire := func(v any) string {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for state, want := range map[lanyard.PairingState]string{
		lanyard.PairingPending: `{"status":"pending"}`,
		lanyard.PairingExpired: `{"status":"expired"}`,
		lanyard.PairingRevoked: `{"status":"revoked"}`,
	} {
		if got := wire(wirePairStatus(&lanyard.PairingOutcome{State: state})); got != want {
			t.Errorf("%s: %s, want %s", state, got, want)
		}
	}
	active := &lanyard.PairingOutcome{State: lanyard.PairingActive, Certificate: []byte{1, 2}, Chain: [][]byte{{3}, {4}}}
	if got, want := wire(wirePairStatus(active)), `{"status":"active","certificate":"AQI=","chain":["Aw==","BA=="]}`; got != want {
		t.Errorf("active: %s, want %s", got, want)
	}

	expires := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	if got, want := wire(wirePairResponse(&lanyard.Workstation{ID: 7, Name: "pc", PairingExpiresAt: expires, PairingCode: "hash"})),
		`{"id":7,"expires_at":"2026-12-07T13:00:00Z"}`; got != want {
		t.Errorf("pair response: %s, want %s", got, want)
	}
	if got, want := wire(wireAirCardJoined(&lanyard.Card{ID: 3, Serial: "AIR1", Name: "Air"})), `{"serial":"AIR1","name":"Air"}`; got != want {
		t.Errorf("joined: %s, want %s", got, want)
	}

	in := agentproto.PairRequest{CSR: []byte{5}, Hostname: "pc", AgentVersion: "1.0", TPM: true, Role: "aircard_service"}
	if got := pairingRequestOf(in); string(got.CSR) != "\x05" || got.Hostname != "pc" || got.AgentVersion != "1.0" || !got.TPM || got.Role != lanyard.RoleAirCardService {
		t.Errorf("pairing request %+v from %+v", got, in)
	}

	var cards []*lanyard.Card
	for i := range agentproto.MaxAirCards + 3 {
		cards = append(cards, &lanyard.Card{Serial: fmt.Sprintf("S%03d", i), Name: fmt.Sprintf("card %d", i)})
	}
	list := wireAirCards(cards)
	if len(list) != agentproto.MaxAirCards || list[0] != (agentproto.AirCard{Serial: "S000", Name: "card 0"}) || list[len(list)-1].Serial != fmt.Sprintf("S%03d", agentproto.MaxAirCards-1) {
		t.Errorf("aircards: %d, first %+v, last %+v", len(list), list[0], list[len(list)-1])
	}
	if err := (&agentproto.Message{Type: agentproto.TypeAirCards, AirCards: list}).Validate(); err != nil {
		t.Errorf("the bounded list does not validate: %v", err)
	}
	if got := wireAirCards(nil); got == nil || len(got) != 0 {
		t.Errorf("no AirCards: %#v, want an empty list", got)
	}
}
