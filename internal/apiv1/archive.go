package apiv1

import "time"

// Key archival (docs/lifecycle.md, "Key archival"; docs/security.md,
// "Key recovery key").

// KRAVersion is one version of the key-recovery (KRA) key: never its
// material, which no API returns.
type KRAVersion struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"`
	// ArchivedKeys counts the archived keys sealed under this version.
	ArchivedKeys int `json:"archived_keys"`
}

// KRARotation is the answer to a rotation: the version now current.
type KRARotation struct {
	Version int `json:"version"`
}

// ArchivedKey is an archived key as its owner sees it: never the key.
type ArchivedKey struct {
	ID                int64     `json:"id"`
	CardID            int64     `json:"card_id"`
	Template          string    `json:"template"`
	KeyAlgorithm      string    `json:"key_algorithm"`
	CertificateSerial string    `json:"certificate_serial,omitempty"`
	State             string    `json:"state"`
	CreatedAt         time.Time `json:"created_at"`
}

// KeyRecoverInput recovers an archived key as a PKCS #12 file.
type KeyRecoverInput struct {
	// Password protects the file; it follows the policy's rules for
	// software-store key container passwords. Never stored.
	Password string `json:"password"`
	// AccountPassword and Code are the step-up: the caller's account
	// password and a current code from their authenticator app.
	AccountPassword string `json:"account_password"`
	Code            string `json:"code"`
}

// KeyRecoveryRequestInput asks to recover another user's archived key.
type KeyRecoveryRequestInput struct {
	ArchivedKeyID int64  `json:"archived_key_id"`
	Reason        string `json:"reason"` // required
}

// KeyRecoveryDecision approves or rejects a key recovery request.
type KeyRecoveryDecision struct {
	Comment string `json:"comment,omitempty"`
	// AccountPassword and Code are the approver's step-up (an approval
	// needs them): their account password and a current code from their
	// authenticator app.
	AccountPassword string `json:"account_password,omitempty"`
	Code            string `json:"code,omitempty"`
}

// KeyRecoveryRequest is a request to recover someone else's archived key
// (dual control): requested by one person, decided by another.
type KeyRecoveryRequest struct {
	ID            int64     `json:"id"`
	ArchivedKeyID int64     `json:"archived_key_id"`
	OwnerID       int64     `json:"owner_id"`
	RequestedBy   int64     `json:"requested_by"`
	Reason        string    `json:"reason"`
	State         string    `json:"state"` // pending, approved, rejected, downloaded
	DecidedBy     int64     `json:"decided_by,omitempty"`
	Comment       string    `json:"comment,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Owner, Requester and Decider are the logins of OwnerID,
	// RequestedBy and DecidedBy.
	Owner     string `json:"owner"`
	Requester string `json:"requester"`
	Decider   string `json:"decider,omitempty"`
}
