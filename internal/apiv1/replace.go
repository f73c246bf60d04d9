package apiv1

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// Replace card (docs/lifecycle.md, "Replace").

// ReplaceCardInput is the Replace card dialog's answer: the old card is
// the one in the path; the new card is in a reader of a workstation (or
// an AirCard made for the owner and bound to the workstation). It is
// issued to the old card's owner; PINs are used on the card and
// forgotten.
type ReplaceCardInput struct {
	// Kind is permanent (default: the old card is revoked with the
	// reason) or temporary (the original disabled until it is found or
	// not: POST /api/v1/cards/{id}/replace/resolve).
	Kind   string `json:"kind,omitempty"`
	Reason string `json:"reason,omitempty"` // lost, compromised or damaged (temporary: default lost)
	// WorkstationID and Reader name the new card.
	WorkstationID int64  `json:"workstation_id"`
	Reader        string `json:"reader,omitempty"`
	AirCard       bool   `json:"aircard,omitempty"` // issue an AirCard bound to the workstation instead
	// Templates: temporary, the templates the temporary card gets
	// (default: the policy's required ones); permanent, the optional
	// templates (default: the old card's still offered).
	Templates []string `json:"templates,omitempty"`
	UserPIN   string   `json:"user_pin,omitempty"`
	AdminPIN  string   `json:"admin_pin,omitempty"`
	Name      string   `json:"name,omitempty"`
	Comment   string   `json:"comment,omitempty"`
	// Recovery puts the owner's earlier archived encryption keys on the
	// new card (IssueCardInput.Recovery).
	Recovery *HistoryAuthority `json:"recovery,omitempty"`
}

// ReplaceCardResult is the new card's issue (issued, or pending: Continue
// card issue finishes it), the old card as it is now and the link.
type ReplaceCardResult struct {
	IssueCardResult
	OldCard     *CardView                `json:"old_card"`
	Replacement *lanyard.CardReplacement `json:"replacement"`
}

// ResolveReplacementInput says whether the original of a temporary
// replacement was found.
type ResolveReplacementInput struct {
	Found bool `json:"found"`
}

// ResolveReplacementResult is both cards after the resolution and the
// link.
type ResolveReplacementResult struct {
	Original    *CardView                `json:"original"`
	Temporary   *CardView                `json:"temporary"`
	Replacement *lanyard.CardReplacement `json:"replacement"`
}

// Replacement is a replacement link as a card shows it, with both cards'
// serials.
type Replacement struct {
	*lanyard.CardReplacement
	OldSerial string `json:"old_serial"`
	NewSerial string `json:"new_serial"`
}
