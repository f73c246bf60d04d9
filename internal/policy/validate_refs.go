package policy

import (
	"slices"
	"strings"
	"unicode"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func checkDocuments(d *lanyard.DocumentsSettings) *lanyard.Error {
	switch d.Check {
	case lanyard.DocsNone, lanyard.DocsCARequest, lanyard.DocsForm, lanyard.DocsRequestForm:
	default:
		return invalid(labelDocs, "unknown mode %q; use none, certificate_request, certificate_form or both", d.Check)
	}
	switch d.Channel {
	case lanyard.DocsViaLanyard, lanyard.DocsViaOther:
	default:
		return invalid(labelDocs+" → Documents channel", "unknown value %q; use lanyard or other", d.Channel)
	}
	if d.Precheck && d.Check != lanyard.DocsCARequest && d.Check != lanyard.DocsRequestForm {
		// Only a signed certificate request form is prechecked.
		return invalid(labelDocs+" → Precheck", "prechecks the signed certificate request form; set the check to certificate_request or both")
	}
	return nil
}

func checkCertificates(c *lanyard.CertificateSettings, known []string) *lanyard.Error {
	if err := checkNames(labelRequired, "template", c.Required, known); err != nil {
		return err
	}
	if err := checkNames(labelOptional, "template", c.Optional, known); err != nil {
		return err
	}
	for _, name := range c.Optional {
		if slices.Contains(c.Required, name) {
			return invalid(labelOptional, "template %q is already required; a template is either required or optional", name)
		}
	}
	return nil
}

// checkNames checks a list of references to named objects: syntax, no
// duplicates, and existence when known is not nil.
func checkNames(label, what string, names, known []string) *lanyard.Error {
	for i, name := range names {
		if !lanyard.ValidName(name) {
			return invalid(label, "%q is not a valid %s name", name, what)
		}
		if slices.Contains(names[:i], name) {
			return invalid(label, "%s %q is listed twice", what, name)
		}
		if known != nil && !slices.Contains(known, name) {
			return invalid(label, "unknown %s %q", what, name)
		}
	}
	return nil
}

// maxPrincipalLen bounds user and group names in assignments; group names
// may be directory distinguished names, which are long.
const maxPrincipalLen = 512

func checkAssignments(as []lanyard.Assignment) *lanyard.Error {
	for i, a := range as {
		switch a.Kind {
		case lanyard.AssignUser, lanyard.AssignGroup:
			if err := checkPrincipal(a); err != nil {
				return err
			}
		case lanyard.AssignContainer:
			if err := checkPrincipal(a); err != nil {
				return err
			}
			if !strings.Contains(a.Name, "=") {
				return invalid(labelAssign, "container %q is not a distinguished name (e.g. OU=Staff,DC=example,DC=com)", a.Name)
			}
		case lanyard.AssignEveryone:
			if a.Name != "" {
				return invalid(labelAssign, "an assignment to everyone takes no name")
			}
		default:
			return invalid(labelAssign, "unknown kind %q; use user, group, container or everyone", a.Kind)
		}
		if slices.Contains(as[:i], a) {
			if a.Kind == lanyard.AssignEveryone {
				return invalid(labelAssign, "everyone is assigned twice")
			}
			return invalid(labelAssign, "%s %q is assigned twice", a.Kind, a.Name)
		}
	}
	return nil
}

// checkPrincipal checks the name of a user or group assignment. Logins and
// group names come from directories and may hold spaces or '@', so only
// what can never match is refused: empty names, surrounding spaces and
// control characters.
func checkPrincipal(a lanyard.Assignment) *lanyard.Error {
	what := "login"
	switch a.Kind {
	case lanyard.AssignGroup:
		what = "group name"
	case lanyard.AssignContainer:
		what = "distinguished name"
	}
	switch {
	case a.Name == "":
		return invalid(labelAssign, "a %s assignment needs a %s", a.Kind, what)
	case len(a.Name) > maxPrincipalLen:
		return invalid(labelAssign, "%s is longer than %d bytes", what, maxPrincipalLen)
	case strings.TrimSpace(a.Name) != a.Name:
		return invalid(labelAssign, "%s %q has leading or trailing spaces", what, a.Name)
	case strings.ContainsFunc(a.Name, unicode.IsControl):
		return invalid(labelAssign, "%s %q contains control characters", what, a.Name)
	}
	return nil
}
