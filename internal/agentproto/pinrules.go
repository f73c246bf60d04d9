package agentproto

// PIN rules for the workstation's command line (review L6): `lanyard agent
// pin change` and `lanyard agent unblock --offline` set a PIN on the card
// with no server in the loop, so they need the PIN length the card
// owner's policy allows (issuance.PINRange), not only the PIV bounds. The
// agent asks for the rules of the cards it may hold each time it
// connects and when a card it has no rules for arrives, and keeps them in
// its state directory for use offline.
//
//	GET /agent/v1/pin-rules → 200 PINRules
const PathPINRules = "/agent/v1/pin-rules"

// PINRules are the PIN rules of the issued cards of the workstation's
// owner and of those last seen at the workstation.
type PINRules struct {
	Cards []CardPINRule `json:"cards"`
}

// CardPINRule is the length a new PIN of the card (by its serial, as the
// PIV client reads it: Reader.Serial) must have.
type CardPINRule struct {
	Serial    string `json:"serial"`
	CardType  string `json:"card_type"`
	MinLength int    `json:"min_length"`
	MaxLength int    `json:"max_length"`
	// Owned: the card is one of the workstation owner's, the only cards
	// whose PUK escrow (PathPUKEscrow) the server accepts from it; the
	// offline unblock's roll-forward runs only for them.
	Owned bool `json:"owned,omitempty"`
}
