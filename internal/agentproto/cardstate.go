package agentproto

import "fmt"

// Card states (issue 16 item 7): the server tells a workstation's agent
// the state of a card that arrived in its readers, so that the person at
// the workstation learns that the card is disabled or revoked from the
// agent (lanyard agent status) before an application fails with it.
const (
	// TypeCardState (server → agent, only to agents whose hello offers
	// FeatureCardState): CardState. No reply.
	TypeCardState = "cardstate"
	// FeatureCardState: the agent takes cardstate messages.
	FeatureCardState = "cardstate"
)

// A server tells the agent which of the agent's optional fields it
// decodes in the 101 answer's ServerFeaturesHeader: frames are decoded
// strictly, so an agent sends a field an older server does not know only
// when it is listed.
const (
	ServerFeaturesHeader = "Lanyard-Server-Features"
	// ServerFeaturePINStatus: the server takes Reader.PIN.
	ServerFeaturePINStatus = "pin_status"
)

// CardStateUpdating is CardState.State while the server updates the
// card's contents automatically on its arrival (Update card contents):
// the agent shows it until the server tells the card's state again when
// the update ends. Agents that know no such state show nothing for it.
const CardStateUpdating = "updating"

// CardState is the state of the card with Serial as the server records
// it: a card state of internal/lanyard ("issued", "disabled", "revoked",
// …) and, for a revoked card, why; or CardStateUpdating.
type CardState struct {
	Serial string `json:"serial"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// validate bounds a cardstate message's content.
func (s *CardState) validate() error {
	if s.Serial == "" || len(s.Serial) > 64 || s.State == "" || len(s.State) > 32 || len(s.Reason) > 64 {
		return fmt.Errorf("agentproto: malformed card state %q", s.Serial)
	}
	return nil
}
