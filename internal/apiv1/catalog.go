package apiv1

import (
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// CardTypeInput is a card type as the API accepts it: the public fields
// plus optional secrets, which are sealed before they reach the store.
type CardTypeInput struct {
	lanyard.CardType
	DefaultAdminKeyHex *string `json:"default_admin_key,omitempty"` // hex; "" clears
	DefaultUserPIN     *string `json:"default_user_pin,omitempty"`  // "" clears
	DefaultPUK         *string `json:"default_puk,omitempty"`       // "" clears
}

// Features are the server-wide switches of the virtual card kinds that
// live on workstations, like the guide's Configuration Wizard options
// ("Create TPM virtual smart card"). Both are off until an administrator
// turns them on: a TPM-bound credential is a decision of the
// organization, not a default.
type Features struct {
	TPMVirtualCard     bool `json:"tpm_virtual_card"`
	PlatformCredential bool `json:"platform_credential"`
}

// PolicyInput is a policy as the API accepts it. Settings left out of the
// JSON keep their defaults (policy.Defaults), because the web layer decodes
// onto a Defaults-filled value (NewPolicyInput).
type PolicyInput = lanyard.Policy

// NewPolicyInput returns a policy input pre-filled with defaults, for
// decoding request bodies onto.
func NewPolicyInput() *PolicyInput {
	return &lanyard.Policy{Priority: 100, Settings: policy.Defaults(), Assignments: []lanyard.Assignment{}}
}
