package agentproto

// Online unblock from the workstation's command line (lanyard agent
// unblock): a paired workstation, presenting its client certificate, asks
// for its owner's secret questions, then sends the answers and the new PIN
// for a card in one of its readers. The server checks the answers and
// resets the PIN through the agent's relay as Self-Service does
// (docs/lifecycle.md, "Reset user PIN and online unblock").
//
//	GET  /agent/v1/unblock   → 200 UnblockQuestions
//	POST /agent/v1/unblock   Unblock → 200 Unblocked
const PathUnblock = "/agent/v1/unblock"

// UnblockQuestions are the secret questions the workstation's owner
// chose; they answer them.
type UnblockQuestions struct {
	Questions []string `json:"questions"`
}

// Unblock names the card (its serial; empty: the only card connected at
// the workstation), the owner's answers and the new PIN (empty when the
// policy sets a random one). None of it is stored or logged.
type Unblock struct {
	Serial  string         `json:"serial,omitempty"`
	Answers []SecretAnswer `json:"answers"`
	NewPIN  string         `json:"new_pin,omitempty"`
}

// SecretAnswer is the answer to one question.
type SecretAnswer struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// Unblocked is the card unblocked and, when the policy set a random PIN
// the owner may see, that PIN, shown once.
type Unblocked struct {
	Serial    string `json:"serial"`
	RandomPIN string `json:"random_pin,omitempty"`
}
