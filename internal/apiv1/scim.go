package apiv1

import "github.com/lanyard-cms/lanyard/internal/lanyard"

// SCIMTokenInput creates a SCIM token.
type SCIMTokenInput struct {
	Name string `json:"name"` // unique label, such as entra-id or entra-id/2027; the part before '/' is the client whose users and groups the token manages; the audit events' actor is "scim:<name>"
}

// NewSCIMToken is a created SCIM token; Secret is shown once and never
// stored.
type NewSCIMToken struct {
	Secret string             `json:"token"`
	Token  *lanyard.SCIMToken `json:"info"`
	// Endpoint is the URL to give the SCIM client (its "Tenant URL").
	Endpoint string `json:"endpoint"`
}
