package directory

import "strings"

// NormalizeDN is the form group DNs are kept and compared in
// (docs/directory.md): lowercase, no spaces around the commas between
// RDNs (RFC 4514 2.4 allows them; directories differ in whether they
// write them). It is a stand-in for internal/directory's NormalizeDN
// until both are merged, for DNs without escaped commas.
func NormalizeDN(dn string) string {
	parts := strings.Split(strings.TrimSpace(dn), ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.ToLower(strings.Join(parts, ","))
}
