package lanyard

import "time"

// ReplacementKind is how a card replaces another (docs/lifecycle.md,
// "Replace").
type ReplacementKind string

const (
	// ReplacePermanent: the old card is revoked and the new card is its
	// owner's card for good.
	ReplacePermanent ReplacementKind = "permanent"
	// ReplaceTemporary: the original is disabled while it is missing; the
	// temporary card stands in until the original is found (the
	// temporary card is revoked, the original back to its state before:
	// enabled, or still disabled when staff had disabled it) or not (the
	// original is revoked, the link becomes permanent).
	ReplaceTemporary ReplacementKind = "temporary"
)

// ReplacementState is where a replacement stands.
type ReplacementState string

const (
	// ReplacementPending: the new card's issue has not finished (it was
	// interrupted, or waits for approvals or documents); Continue card
	// issue finishes it.
	ReplacementPending ReplacementState = "pending"
	// ReplacementActive: the new card is issued.
	ReplacementActive ReplacementState = "active"
	// ReplacementEnded: a temporary replacement whose original was found
	// (the temporary card revoked, the original as it was before), or
	// any link one of whose cards was since withdrawn or changed hands
	// (it binds neither card any more).
	ReplacementEnded ReplacementState = "ended"
)

// Valid reports whether k is a known kind.
func (k ReplacementKind) Valid() bool { return k == ReplacePermanent || k == ReplaceTemporary }

// Valid reports whether s is a known state.
func (s ReplacementState) Valid() bool {
	return s == ReplacementPending || s == ReplacementActive || s == ReplacementEnded
}

// CardReplacement links a card (OldCardID) to the card that replaces it
// (NewCardID, replaced_by).
type CardReplacement struct {
	ID        int64            `json:"id"`
	OldCardID int64            `json:"old_card_id"`
	NewCardID int64            `json:"new_card_id"`
	Kind      ReplacementKind  `json:"kind"`
	State     ReplacementState `json:"state"`
	// Reason is why the old card was replaced (lost, compromised,
	// damaged); a temporary replacement's original found or not found
	// keeps it.
	Reason CardRevocationReason `json:"reason"`
	// OwnerID is the owner both cards had when the replacement was
	// made (0: not known, a link recorded before migration 0025 whose
	// cards no longer share an owner). A card that has since changed
	// hands does not carry the link: its new owner neither sees it nor
	// is bound by it.
	OwnerID int64 `json:"owner_id,omitempty"`
	// OldState is the old card's state before the replacement (issued,
	// disabled or revoked; empty for a link recorded before migration
	// 0025, taken as issued): Original found returns the original to
	// it, so a card staff disabled stays disabled.
	OldState  CardState `json:"old_state,omitempty"`
	ActorID   int64     `json:"actor_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Open reports whether r still binds its cards: a temporary replacement
// not yet resolved, or a permanent one whose cards both stay with their
// owner (a link ends when either card is withdrawn or changes hands).
func (r *CardReplacement) Open() bool { return r.State != ReplacementEnded }

// CardReplacementStore holds the links between replaced and replacing
// cards.
type CardReplacementStore interface {
	// CreateCardReplacement records r (sets r.ID). EConflict when either
	// card is already in an open replacement on the same side (a card is
	// replaced at most once at a time, and replaces at most one card).
	CreateCardReplacement(r *CardReplacement) error
	// UpdateCardReplacement writes r's kind, state and updated time.
	UpdateCardReplacement(r *CardReplacement) error
	// CardReplacementsOf lists the replacements card takes part in, old or
	// new side, newest first.
	CardReplacementsOf(cardID int64) ([]*CardReplacement, error)
	// OpenReplacementByNew is the open replacement whose new card is
	// cardID; ENotFound when there is none.
	OpenReplacementByNew(cardID int64) (*CardReplacement, error)
}
