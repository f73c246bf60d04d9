package apiv1

import (
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The software store's wire types (internal/service/cardops takes and
// returns the same shapes without tags; internal/web converts).

// SoftwareStoreInput is the guide's "Registry" issue: Issue card → name →
// Software store — machine or — user → Issue, with the key container
// password. The password is used once, by the agent, and never stored or
// logged; it cannot be reset: the remedy for a forgotten one is to issue
// again.
type SoftwareStoreInput struct {
	WorkstationID int64    `json:"workstation_id"`
	Scope         string   `json:"scope"` // machine or user
	Name          string   `json:"name,omitempty"`
	Password      string   `json:"password,omitempty"`
	Templates     []string `json:"templates,omitempty"` // optional templates chosen
	User          string   `json:"user,omitempty"`
}

// SoftwareStoreOption is whether a software store of Scope can be issued
// on a workstation for a user, and if not, why; when it can, Offer is
// what the dialog shows. Self-Service shows "Issue software store
// (machine)" and "(user)" per workstation from this list.
type SoftwareStoreOption struct {
	WorkstationID int64                          `json:"workstation_id"`
	Workstation   string                         `json:"workstation"`
	Scope         string                         `json:"scope"`
	Available     bool                           `json:"available"`
	Reason        string                         `json:"reason,omitempty"`
	Offer         *issuance.SoftwareStoreOptions `json:"offer,omitempty"`
}

// SoftwareStoreResult reports an issued software store: the card record
// and, per certificate, the file the agent wrote.
type SoftwareStoreResult struct {
	Card  *CardView           `json:"card"`
	Files []SoftwareStoreFile `json:"files"`
}

// SoftwareStoreFile is one certificate with its key in a software store.
type SoftwareStoreFile struct {
	Template    string `json:"template"`
	Certificate string `json:"certificate"` // serial
	lanyard.SoftwareStored
}
