package apiv1

// RecoverKeysInput is Recover keys onto card (POST
// /api/v1/cards/{id}/recover-keys): the owner's earlier archived
// encryption keys into the card's retired key slots. The card is in
// Reader of WorkstationID (default: found among the owner's and the
// caller's workstations).
type RecoverKeysInput struct {
	WorkstationID int64  `json:"workstation_id,omitempty"`
	Reader        string `json:"reader,omitempty"`
	// AccountPassword and Code are the owner's step-up: their account
	// password and a current code from their authenticator app. Never
	// stored.
	AccountPassword string `json:"account_password,omitempty"`
	Code            string `json:"code,omitempty"`
	// Requests are an operator's or administrator's key recovery
	// requests, approved by a second person, for someone else's card
	// (dual control); each is used once.
	Requests []int64 `json:"requests,omitempty"`
}

// RecoverKeysResult is the card after the recovery and the archived keys
// in its retired slots, from 82 up.
type RecoverKeysResult struct {
	Card *CardView     `json:"card"`
	Keys []ArchivedKey `json:"keys"`
	// Note names the owner's earlier keys the card could not take (a TPM
	// card imports RSA 2048 and 3072 keys only); absent when it took all.
	Note string `json:"note,omitempty"`
}
