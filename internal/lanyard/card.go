package lanyard

import (
	"encoding/json"
	"time"
)

// CardState is where a card stands in its life: registered and clean, then
// through an issue (assigned, pending, issued, or waiting for its PIN to be
// set) until it is disabled or revoked.
type CardState string

const (
	CardClean    CardState = "clean"    // registered in Lanyard, holds nothing of ours
	CardAssigned CardState = "assigned" // an issue operation is under way for its owner
	CardPending  CardState = "pending"  // issue waits for approvals ("Card issue pending")
	CardIssued   CardState = "issued"
	// CardPINSetup: a platform credential is issued and waits for its
	// user to set the PIN (Set up PIN, after proving a second factor).
	CardPINSetup CardState = "pin_setup"
	CardDisabled CardState = "disabled"
	CardRevoked  CardState = "revoked"
)

// Valid reports whether s is a known state.
func (s CardState) Valid() bool {
	switch s {
	case CardClean, CardAssigned, CardPending, CardIssued, CardPINSetup, CardDisabled, CardRevoked:
		return true
	}
	return false
}

// Card is one physical or virtual card Lanyard knows. Serial is what the
// card says it is (the PIV vendor serial, else the CHUID GUID in hex);
// together with the card type it identifies the card. The card's
// management key is never stored: AdminKeyVersion names the master secret
// version it was diversified from (0: the card type's default key), so the
// server can derive it again (internal/card/personalize).
type Card struct {
	ID              int64     `json:"id"`
	Serial          string    `json:"serial"`
	CardType        string    `json:"card_type"`
	OwnerID         int64     `json:"owner_id,omitempty"`
	Name            string    `json:"name,omitempty"`
	State           CardState `json:"state"`
	CardID          string    `json:"-"` // hex identifier the admin key is bound to (CardIdent; older cards: CHUID GUID or serial)
	AdminKeyVersion int       `json:"-"`
	// GUID is the card's CHUID GUID in hex as it was when the card was
	// registered (or initialized): no other card may present it, and the
	// card must still present it before the server uses its derived
	// management key (a copied CHUID is refused). "" when it has none.
	GUID string `json:"-"`
	// SealedPUK is the card's own random PUK (PUKState random), sealed
	// with the service's sealer; it is never shown or logged.
	SealedPUK     []byte    `json:"-"`
	PUKState      PUKState  `json:"puk_state,omitempty"`
	ATR           []byte    `json:"atr,omitempty"`
	WorkstationID int64     `json:"workstation_id,omitempty"` // where it was last seen
	IssuedAt      time.Time `json:"issued_at,omitzero"`
	// RevocationReason is why a revoked card was revoked (Revoke card);
	// "" for a card never revoked or withdrawn since.
	RevocationReason CardRevocationReason `json:"revocation_reason,omitempty"`
	// OfflineScheme is how the card is unblocked offline
	// (docs/lifecycle.md, "Offline unblock"), as its issue found out:
	// "lanyard-mac" (it took Lanyard's offline key), "piv-puk" (a standard
	// PIV card: it does not know Lanyard's instructions), "" when not
	// known (issued before this was recorded). Only a challenge of the
	// recorded scheme is answered, so a Lanyard card cannot obtain its
	// PUK by claiming to be a standard one.
	OfflineScheme string `json:"-"`
	// PUKReleasedAt is when an offline unblock released the card's PUK
	// (scheme piv-puk); zero when it was not released since the server
	// last rotated it. The card's next online arrival rotates it.
	PUKReleasedAt time.Time `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// CardRevocationReason is why a card was revoked, as the person who
// revokes it says it (docs/lifecycle.md, "Revoke"). Each maps to the RFC
// 5280 (5.3.1) reason its certificates are revoked with (CertReason).
type CardRevocationReason string

const (
	CardLost        CardRevocationReason = "lost"
	CardCompromised CardRevocationReason = "compromised" // stolen, or its PIN known to others
	CardDamaged     CardRevocationReason = "damaged"
	CardSuperseded  CardRevocationReason = "superseded" // replaced by another card
	CardWithdrawn   CardRevocationReason = "withdrawn"  // its owner left, or no longer needs a card
)

// CardRevocationReasons lists the reasons in the order pickers show them.
var CardRevocationReasons = []CardRevocationReason{CardLost, CardCompromised, CardDamaged, CardSuperseded, CardWithdrawn}

// ParseCardRevocationReason accepts one of CardRevocationReasons.
func ParseCardRevocationReason(s string) (CardRevocationReason, error) {
	for _, r := range CardRevocationReasons {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(EInvalid, "revocation reason %q: use lost, compromised, damaged, superseded or withdrawn", s)
}

// CertReason is the CRL reason (RFC 5280 5.3.1) the card's certificates
// are revoked with. A lost card is treated as compromised: its keys are
// out of its owner's hands, and only the PIN retry counter stands between
// a finder and them, so relying parties must distrust what those keys
// signed since (keyCompromise). A damaged card's keys are gone with it
// (cessationOfOperation); a superseded card's certificates are replaced
// (superseded); a withdrawn card's owner no longer belongs to the
// organization (affiliationChanged).
func (r CardRevocationReason) CertReason() RevocationReason {
	switch r {
	case CardLost, CardCompromised:
		return ReasonKeyCompromise
	case CardSuperseded:
		return ReasonSuperseded
	case CardWithdrawn:
		return ReasonAffiliationChanged
	}
	return ReasonCessationOfOperation
}

// PUKState says which PUK (the PIV Admin PIN) a card holds. Only a card
// with its own random PUK, sealed on the server, is safe to hand out: a
// shared default PUK lets anyone holding the card reset its PIN.
type PUKState string

const (
	// PUKFactory: never issued by Lanyard; the card has what it came with.
	PUKFactory PUKState = ""
	// PUKRandom: the card's own random PUK, sealed on the server.
	PUKRandom PUKState = "random"
	// PUKDefault: the card type's (or the factory's) shared default PUK.
	PUKDefault PUKState = "default"
	// PUKUnknown: a PUK chosen at an issue before Lanyard stored PUKs;
	// the server does not know it.
	PUKUnknown PUKState = "unknown"
)

// Valid reports whether s is a known state.
func (s PUKState) Valid() bool {
	switch s {
	case PUKFactory, PUKRandom, PUKDefault, PUKUnknown:
		return true
	}
	return false
}

// CardFilter selects cards for ListCards. Zero fields match everything.
type CardFilter struct {
	OwnerID  int64
	State    CardState
	CardType string
	// WorkstationID: cards last seen at (virtual cards: living on) that
	// workstation.
	WorkstationID int64
	Query         string // substring of serial or name
	// PUKState: cards holding that PUK, such as PUKDefault for the cards
	// that still have a shared one (issue 13). The zero value (PUKFactory)
	// matches every card, so factory-fresh cards cannot be selected here.
	PUKState PUKState
	// PINBlocked: only the cards whose PIN an agent last saw blocked
	// (docs/lifecycle.md, "PIN blocked cards").
	PINBlocked bool
	// ContentStatus: only the cards the Card Monitor last found so
	// ("" any; ContentNone: also the cards it never recorded).
	ContentStatus ContentStatus
	Limit         int
	Offset        int
}

// OperationKind names a card workflow.
type OperationKind string

const (
	OpIssue OperationKind = "issue"
	// OpClear is Revoke and clear card: never resumed (a failed one is
	// repeated), so it never keeps a card from a new issue.
	OpClear OperationKind = "clear"
	// OpCreateVirtual records the creation of a virtual card (TPM
	// virtual card, platform credential, AirCard): one transaction.
	OpCreateVirtual OperationKind = "create_virtual"
	// OpChangePIN records a Change PIN (old PIN → new PIN by the owner):
	// one transaction once the card changed it.
	OpChangePIN OperationKind = "change_pin"
	// OpResetPIN is Reset user PIN / online unblock: the card's PUK sets
	// a new PIN, then the PUK is rotated; resumable (cardops/pinreset.go).
	OpResetPIN OperationKind = "reset_pin"
	// OpUpdate is Update card contents: renew, add and remove
	// certificates of an issued card; resumable like an issue
	// (cardops/update*.go). The card stays issued and usable throughout.
	OpUpdate OperationKind = "update"
	// OpRecoverKeys is Recover keys onto card: the owner's earlier
	// archived keys put into an issued card's retired slots; recorded
	// before the card gets them, repeated with the recorded keys when
	// interrupted (cardops/recoverkeys.go).
	OpRecoverKeys OperationKind = "recover_keys"
	// OpReissueStore is a software store's re-issue (Update card contents
	// of a software store): new keys in new files, the old certificates
	// revoked superseded; not resumed (the new keys live in the agent's
	// memory until written), so an interrupted one fails
	// (cardops/softupdate.go).
	OpReissueStore OperationKind = "reissue_store"
)

// OperationState is where an operation stands. Running operations that
// lose their card, agent or server become interrupted and can be resumed;
// failed operations left the card consistent and need a new start.
type OperationState string

const (
	OpRunning     OperationState = "running"
	OpPending     OperationState = "pending" // waiting for approvals (documents check)
	OpInterrupted OperationState = "interrupted"
	OpDone        OperationState = "done"
	OpFailed      OperationState = "failed"
)

// Finished reports whether the operation can no longer change.
func (s OperationState) Finished() bool { return s == OpDone || s == OpFailed }

// Operation is a resumable card workflow with its steps recorded
// (docs/architecture.md, "Principles": workflows are resumable). Step is
// the last step completed; Data is
// the workflow's own record (the plan, keys generated, certificates
// issued) — never a PIN, PUK or key.
type Operation struct {
	ID        int64           `json:"id"`
	Kind      OperationKind   `json:"kind"`
	CardID    int64           `json:"card_id"`
	UserID    int64           `json:"user_id"`  // whose card
	ActorID   int64           `json:"actor_id"` // who started it
	State     OperationState  `json:"state"`
	Step      string          `json:"step"`
	Data      json.RawMessage `json:"data,omitempty"`
	Error     string          `json:"error,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// OperationFilter selects operations for ListOperations.
type OperationFilter struct {
	CardID int64
	UserID int64
	Kind   OperationKind
	State  OperationState
	// Unfinished keeps running, interrupted and pending operations.
	Unfinished bool
	Limit      int
}

// SecretAnswer is one of a user's secret questions with the answer's
// password hash (argon2id, internal/auth): a user proves with them who
// they are for a PIN reset, an offline unblock and Remote Self-Service
// (docs/lifecycle.md); they are never stored in the clear.
type SecretAnswer struct {
	Question   string `json:"question"`
	AnswerHash string `json:"-"`
}

// SecretLock is a user's count of wrong secret answers in a row and,
// once the policy's limit is reached, when the answers were locked
// (zero: not locked). A right answer clears the count; only an operator
// clears a lock.
type SecretLock struct {
	Failures int       `json:"failures"`
	LockedAt time.Time `json:"locked_at"`
}

// Locked reports whether the answers are locked.
func (l SecretLock) Locked() bool { return !l.LockedAt.IsZero() }
