package agenthub

import (
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The conversions between the workstations capability's domain types and
// the agent protocol's wire types. The JSON an agent sends and gets is
// defined by agentproto alone; the capability never sees it
// (docs/architecture.md, "The agent protocol").

// pairingRequestOf is an agent's pairing request as the capability
// checks it; an unknown role is passed on for the capability to refuse.
func pairingRequestOf(in agentproto.PairRequest) lanyard.PairingRequest {
	return lanyard.PairingRequest{CSR: in.CSR, Hostname: in.Hostname, AgentVersion: in.AgentVersion, TPM: in.TPM, Role: lanyard.WorkstationRole(in.Role)}
}

// wirePairResponse names the pending workstation w to the agent that
// asked to pair.
func wirePairResponse(w *lanyard.Workstation) *agentproto.PairResponse {
	return &agentproto.PairResponse{ID: w.ID, ExpiresAt: w.PairingExpiresAt}
}

// wirePairStates spells each pairing state in the pairing poll's answer.
var wirePairStates = map[lanyard.PairingState]string{
	lanyard.PairingPending: agentproto.PairPending,
	lanyard.PairingActive:  agentproto.PairActive,
	lanyard.PairingExpired: agentproto.PairExpired,
	lanyard.PairingRevoked: agentproto.PairRevoked,
}

// wirePairStatus is a pairing's outcome as the agent's poll gets it.
func wirePairStatus(o *lanyard.PairingOutcome) *agentproto.PairStatus {
	return &agentproto.PairStatus{Status: wirePairStates[o.State], Certificate: o.Certificate, Chain: o.Chain}
}

// wireAirCards is the list of an aircards message: the first
// agentproto.MaxAirCards of cards (the bound the agent enforces), by
// serial and name.
func wireAirCards(cards []*lanyard.Card) []agentproto.AirCard {
	cards = cards[:min(len(cards), agentproto.MaxAirCards)]
	out := make([]agentproto.AirCard, len(cards))
	for i, c := range cards {
		out[i] = agentproto.AirCard{Serial: c.Serial, Name: c.Name}
	}
	return out
}

// wireAirCardJoined names the AirCard a workstation joined.
func wireAirCardJoined(c *lanyard.Card) *agentproto.AirCardJoined {
	return &agentproto.AirCardJoined{Serial: c.Serial, Name: c.Name}
}
