package directory

import (
	"strings"

	ldapdir "github.com/lanyard-cms/lanyard/internal/directory"
)

// NormalizeDN is the form group DNs are kept and compared in
// (docs/directory.md): internal/directory's NormalizeDN (RFC 4514,
// lowercase, no spaces around separators); a DN it cannot parse is
// lowercased and trimmed around its commas.
func NormalizeDN(dn string) string {
	if n, err := ldapdir.NormalizeDN(dn); err == nil {
		return n
	}
	parts := strings.Split(strings.TrimSpace(dn), ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return strings.ToLower(strings.Join(parts, ","))
}
