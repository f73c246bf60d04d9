package lanyard

import "time"

// OfflineArm is the offline unblock code the server armed in a TPM
// virtual card (docs/lifecycle.md, "Offline unblock", scheme
// lanyard-tpm): which counter and nonce, derived from which version of
// the card admin master secret. The code itself is not kept: the server
// derives it again when it answers the card's challenge.
type OfflineArm struct {
	CardID     int64
	Counter    int   // 1, 2, ... per card: never armed twice
	Nonce      int64 // 36 random bits
	KeyVersion int   // of the card admin master secret
	State      OfflineArmState
	UpdatedAt  time.Time
}

// OfflineArmState is where arming a card stands.
type OfflineArmState string

const (
	// OfflineArming: counter and nonce are recorded, ARM OFFLINE UNBLOCK
	// may or may not have reached the card; it is sent again.
	OfflineArming OfflineArmState = "arming"
	// OfflineArmed: the card took the code.
	OfflineArmed OfflineArmState = "armed"
	// OfflineUnavailable: the card cannot hold a code (a TPM virtual card
	// made before offline unblock); it must be re-issued.
	OfflineUnavailable OfflineArmState = "unavailable"
)

// OfflineArmStore holds each TPM virtual card's armed code.
type OfflineArmStore interface {
	// OfflineArmOf returns card cardID's; ENotFound when none was ever
	// armed.
	OfflineArmOf(cardID int64) (*OfflineArm, error)
	// PutOfflineArm records a's, replacing the card's earlier one.
	PutOfflineArm(a *OfflineArm) error
}
