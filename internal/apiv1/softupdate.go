package apiv1

import (
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Software store re-issue (docs/lifecycle.md, "Update card contents",
// software stores): Update card contents for a software store. The store
// is the card in the path; its workstation's agent makes the new keys and
// writes them into new files.

// StoreReissueInput is the re-issue dialog's answer. The key container
// password of the new files is asked again (it is never stored) and
// follows the policy's rules as at issue.
type StoreReissueInput struct {
	// WorkstationID is the store's workstation; 0 means the card's.
	WorkstationID int64    `json:"workstation_id,omitempty"`
	Password      string   `json:"password,omitempty"`
	Templates     []string `json:"templates,omitempty"` // optional templates to add
}

// StoreReissueResult reports a re-issue: the store as it is now and, per
// certificate changed, its new file and the old one.
type StoreReissueResult struct {
	Card        *CardView           `json:"card"`
	OperationID int64               `json:"operation_id"`
	Files       []StoreReissuedFile `json:"files"`
}

// StoreReissuedFile is one certificate of a re-issue: renewed or added
// (a new file) or removed (only revoked). The old file is left in place
// with its revoked certificate (old_path).
type StoreReissuedFile struct {
	Template  string              `json:"template"`
	Action    issuance.SlotAction `json:"action"` // renew, add or remove
	OldSerial string              `json:"old_serial,omitempty"`
	NewSerial string              `json:"new_serial,omitempty"`
	OldPath   string              `json:"old_path,omitempty"`
	lanyard.SoftwareStored
}
