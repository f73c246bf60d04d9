package lanyard

import "time"

// KeyRecoveryState is where a request to recover someone else's archived
// key stands (docs/lifecycle.md, "Key archival", dual control).
type KeyRecoveryState string

// Key recovery request states: pending → approved → downloaded, or
// pending → rejected. Only a pending request is decided; only an approved
// one is downloaded, once.
const (
	KeyRecoveryPending    KeyRecoveryState = "pending"
	KeyRecoveryApproved   KeyRecoveryState = "approved"
	KeyRecoveryRejected   KeyRecoveryState = "rejected"
	KeyRecoveryDownloaded KeyRecoveryState = "downloaded"
	// KeyRecoveryExpired is a request left pending past its ExpiresAt.
	KeyRecoveryExpired KeyRecoveryState = "expired"
)

// Valid reports whether s is a known state.
func (s KeyRecoveryState) Valid() bool {
	switch s {
	case KeyRecoveryPending, KeyRecoveryApproved, KeyRecoveryRejected, KeyRecoveryDownloaded, KeyRecoveryExpired:
		return true
	}
	return false
}

// KeyRecoveryRequest is one person's request to recover another user's
// archived key, which a second person decides.
type KeyRecoveryRequest struct {
	ID            int64            `json:"id"`
	ArchivedKeyID int64            `json:"archived_key_id"`
	OwnerID       int64            `json:"owner_id"`
	RequestedBy   int64            `json:"requested_by"`
	Reason        string           `json:"reason"`
	State         KeyRecoveryState `json:"state"`
	DecidedBy     int64            `json:"decided_by,omitempty"` // 0 while pending
	Comment       string           `json:"comment,omitempty"`    // the decider's
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	// OwnerEmail is the owner's e-mail address at the request, where
	// their notice of it went ("" when they had none). A request whose
	// owner's address has changed since is not approved nor downloaded.
	OwnerEmail string `json:"owner_email,omitempty"`
	// ExpiresAt is when a pending request expires undecided.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// KeyRecoveryStore holds key recovery requests.
type KeyRecoveryStore interface {
	CreateKeyRecoveryRequest(r *KeyRecoveryRequest) error // sets r.ID
	// UpdateKeyRecoveryRequest writes r's state, decider, comment and
	// updated time if the stored request is still in state from;
	// EConflict otherwise (two approvers, two downloads at once).
	UpdateKeyRecoveryRequest(r *KeyRecoveryRequest, from KeyRecoveryState) error
	KeyRecoveryRequestByID(id int64) (*KeyRecoveryRequest, error) // ENotFound when none
	// ListKeyRecoveryRequests lists requests in state ("" for all),
	// newest first.
	ListKeyRecoveryRequests(state KeyRecoveryState) ([]*KeyRecoveryRequest, error)
}
