package apiv1

import (
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Update card contents (docs/lifecycle.md, "Update card contents"): renew,
// add and remove the certificates of an issued card in a reader. The card
// is the one in the path; the reader must hold it.

// UpdateTarget names the reader that holds the card to update. An update
// is for the card's owner, so unlike an issue no user is named.
type UpdateTarget struct {
	WorkstationID int64  `json:"workstation_id"`
	Reader        string `json:"reader"`
}

// UpdateOptionsResult is what the Update card dialog shows: per slot the
// action (keep, renew, add, remove), its reasons and key mode, the
// optional templates and the tracked certificates the caller may pick,
// and the cautions to accept (accept_key_loss).
type UpdateOptionsResult struct {
	Card *ConnectedCard `json:"card"`
	issuance.UpdateOptions
}

// UpdateCardInput is the Update card dialog's answer. No PIN is asked: an
// update never touches the card's PINs.
type UpdateCardInput struct {
	UpdateTarget
	Templates []string `json:"templates,omitempty"` // optional templates to add (those held are kept)
	Tracked   []string `json:"tracked,omitempty"`   // slots of found third-party certificates to track
	// Renew are templates the card holds that staff want renewed now
	// although they are not due.
	Renew []string `json:"renew,omitempty"`
	// AcceptKeyLoss accepts the options' cautions (a key-management key
	// replaced in place on a card that cannot move keys).
	AcceptKeyLoss bool `json:"accept_key_loss,omitempty"`
}

// UpdateCardResult reports an update: done, or pending (a certificate
// waits for an approval; POST /api/v1/cards/{id}/update/continue finishes
// it).
type UpdateCardResult struct {
	Card        *CardView     `json:"card"`
	OperationID int64         `json:"operation_id"`
	State       string        `json:"state"` // done or pending
	Slots       []UpdatedSlot `json:"slots"`
}

// UpdatedSlot is one changed slot of an update's result.
type UpdatedSlot struct {
	Slot      string              `json:"slot"`
	Template  string              `json:"template"`
	Action    issuance.SlotAction `json:"action"`        // renew, add or remove
	Key       lanyard.RenewalKey  `json:"key,omitempty"` // new_key or reuse_key (renew, add)
	OldSerial string              `json:"old_serial,omitempty"`
	NewSerial string              `json:"new_serial,omitempty"` // absent for remove, and while pending
	Status    string              `json:"status"`               // done, pending, or "" before it ran
}

// CancelUpdateInput is Cancel card update's answer (administrators): why
// the pending update is given up. The comment is required.
type CancelUpdateInput struct {
	Comment string `json:"comment"`
}

// CardUpdate is a card's update state in its view, from the records
// alone: whether an update is due now and what it would change (the
// Self-Service banner), and the unfinished update to continue.
type CardUpdate struct {
	Due     bool                  `json:"due"`
	Changes []issuance.UpdateSlot `json:"changes"`
	// UnfinishedOperation is the pending or interrupted update; absent
	// when none.
	UnfinishedOperation *lanyard.Operation `json:"unfinished_operation,omitempty"`
}
