package policy

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Templates returns the certificate templates a card issued under s gets:
// every required template, then the chosen optional ones in the order the
// policy lists them (so that the result does not depend on the order of a
// form's fields). Choosing the same template twice is harmless. When the
// policy does not let users select optional templates, none is issued
// (guide: optional certificates are issued when the user selects them).
//
// Errors: EForbidden when the user chose optional templates but the policy
// does not let users select them; EInvalid when a chosen template is not
// one of the policy's optional templates (required templates are always
// included and cannot be chosen), or when the result would be empty, since
// a card issue without a certificate is certainly a mistake.
func Templates(s lanyard.PolicySettings, chosenOptional []string) ([]string, error) {
	c := s.Certificates
	if len(chosenOptional) > 0 && !s.Workflow.SelectOptionalCertificates {
		return nil, lanyard.Errorf(lanyard.EForbidden, "your policy does not let you select optional certificates")
	}
	for _, name := range chosenOptional {
		switch {
		case slices.Contains(c.Required, name):
			return nil, lanyard.Errorf(lanyard.EInvalid, "certificate %q is required and always included; it cannot be selected", name)
		case !slices.Contains(c.Optional, name):
			return nil, lanyard.Errorf(lanyard.EInvalid, "certificate %q is not offered by your policy", name)
		}
	}
	out := slices.Clone(c.Required)
	for _, name := range c.Optional {
		if slices.Contains(chosenOptional, name) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		if len(c.Optional) == 0 || !s.Workflow.SelectOptionalCertificates {
			return nil, lanyard.Errorf(lanyard.EInvalid, "your policy issues no certificates; ask your administrator")
		}
		return nil, lanyard.Errorf(lanyard.EInvalid, "choose at least one certificate")
	}
	return out, nil
}

// CardTypeAllowed reports whether the policy allows cards of the named
// card type. An empty list allows none: a policy grants card types, it
// never grants all of them by omission.
func CardTypeAllowed(s lanyard.PolicySettings, name string) bool {
	return name != "" && slices.Contains(s.AllowedCards, name)
}
