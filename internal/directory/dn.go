package directory

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// NormalizeDN returns the DN in the one spelling Lanyard compares and
// stores: parsed per RFC 4514 3 (escapes and hex-encoded values decoded),
// attribute types and values lowercased, multi-valued RDNs sorted, and
// written back as an RFC 4514 2 string with no spaces around separators.
// Lowercasing values matches the caseIgnoreMatch that AD and OpenLDAP apply
// to the naming attributes (cn, ou, dc; RFC 4519), so two spellings of one
// entry's DN give one string.
func NormalizeDN(dn string) (string, error) {
	if strings.TrimSpace(dn) == "" {
		return "", fmt.Errorf("empty DN")
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return "", fmt.Errorf("DN %q: %w", dn, err)
	}
	for _, rdn := range parsed.RDNs {
		for _, a := range rdn.Attributes {
			if a.Type == "" {
				return "", fmt.Errorf("DN %q: empty attribute type", dn)
			}
			a.Type = strings.ToLower(a.Type)
			a.Value = strings.ToLower(a.Value)
		}
	}
	return parsed.String(), nil
}
