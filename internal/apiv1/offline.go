package apiv1

// The offline unblock's wire types (docs/lifecycle.md, "Offline unblock").

// SecretAnswer is an answer to one of a user's secret questions.
type SecretAnswer struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

// OfflineUnblockInput is a challenge read from a card, with the owner's
// secret answers when they are needed (the owner in Self-Service; staff
// when the policy says Validate answers to security questions).
type OfflineUnblockInput struct {
	Challenge string         `json:"challenge"`
	Answers   []SecretAnswer `json:"answers,omitempty"`
}

// OfflineUnblockResult is the response to read back to the user, once.
type OfflineUnblockResult struct {
	Response string `json:"response"`
	Serial   string `json:"serial"`
	Scheme   string `json:"scheme"`
	// PUKReleased: the card is a standard PIV card (scheme piv-puk), and
	// the response carries its Admin PIN (PUK), which whoever hears both
	// codes learns; the PUK is changed at the card's next online contact.
	PUKReleased bool `json:"puk_released,omitempty"`
}
