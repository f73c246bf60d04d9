package ca

import (
	"crypto/x509/pkix"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Upper bounds of RFC 5280 Appendix A.1 (ub-common-name,
// ub-organization-name, ub-organizational-unit-name), in characters.
const ubName = 64

// buildSubject expands the template's subject fields for u. Empty fields
// are left out; an empty common name is refused: every Lanyard certificate
// names its holder in the subject, where certificate pickers and card
// middleware display it.
func buildSubject(t *lanyard.Template, u *lanyard.User) (pkix.Name, error) {
	var n pkix.Name
	cn, err := subjectField(t, u, "common name", t.Subject.CommonName)
	if err != nil {
		return n, err
	}
	if cn == "" {
		return n, lanyard.Errorf(lanyard.EInvalid, "template %q: the subject common name %q is empty for user %q; fill in the user's attributes or change the template", t.Name, t.Subject.CommonName, u.Login)
	}
	n.CommonName = cn
	o, err := subjectField(t, u, "organization", t.Subject.Organization)
	if err != nil {
		return n, err
	}
	ou, err := subjectField(t, u, "organizational unit", t.Subject.OrganizationalUnit)
	if err != nil {
		return n, err
	}
	c, err := subjectField(t, u, "country", t.Subject.Country)
	if err != nil {
		return n, err
	}
	if o != "" {
		n.Organization = []string{o}
	}
	if ou != "" {
		n.OrganizationalUnit = []string{ou}
	}
	if c != "" {
		// RFC 5280 Appendix A.1: countryName is PrintableString (SIZE (2)),
		// an ISO 3166 alpha-2 code.
		if len(c) != 2 || !isUpperASCII(c[0]) || !isUpperASCII(c[1]) {
			return n, lanyard.Errorf(lanyard.EInvalid, "template %q: subject country %q must be a two-letter ISO 3166 code such as DE or US", t.Name, c)
		}
		n.Country = []string{c}
	}
	return n, nil
}

// subjectField expands one field and checks it is text a certificate can
// carry: valid UTF-8 (UTF8String, RFC 5280 4.1.2.4), no control characters
// (they break display and log lines), within the RFC 5280 length bound.
func subjectField(t *lanyard.Template, u *lanyard.User, what, spec string) (string, error) {
	v := strings.TrimSpace(lanyard.ExpandSubject(spec, u))
	if !utf8.ValidString(v) {
		return "", lanyard.Errorf(lanyard.EInvalid, "template %q: subject %s for user %q is not valid UTF-8", t.Name, what, u.Login)
	}
	if hasControl(v) {
		return "", lanyard.Errorf(lanyard.EInvalid, "template %q: subject %s for user %q contains control characters", t.Name, what, u.Login)
	}
	if n := utf8.RuneCountInString(v); n > ubName {
		return "", lanyard.Errorf(lanyard.EInvalid, "template %q: subject %s for user %q is %d characters; RFC 5280 allows at most %d", t.Name, what, u.Login, n, ubName)
	}
	return v, nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }
