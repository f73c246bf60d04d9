package scim

import "strings"

// Path is a PATCH operation's target (RFC 7644 section 3.5.2, "path"):
// attrPath [valuePath filter] [.subAttr], e.g. "members",
// "name.givenName", `emails[type eq "work"].value`,
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".
type Path struct {
	Attr   AttrPath // Attr.Sub is set for name.givenName (no filter)
	Filter Filter   // the value filter in brackets, or nil
	Sub    string   // the sub-attribute after the filter, or ""
}

// maxPathLen bounds a PATCH path, as maxFilterLen bounds a filter.
const maxPathLen = 1024

// ParsePath parses a PATCH path.
func ParsePath(s string) (Path, error) {
	if len(s) > maxPathLen {
		return Path{}, Errorf(TypeInvalidPath, "path longer than %d characters", maxPathLen)
	}
	s = strings.TrimSpace(s)
	i := strings.IndexByte(s, '[')
	if i < 0 {
		a, err := ParseAttrPath(s)
		return Path{Attr: a}, err
	}
	j := strings.LastIndexByte(s, ']')
	if j < i {
		return Path{}, Errorf(TypeInvalidPath, "path %q: unbalanced brackets", s)
	}
	a, err := ParseAttrPath(s[:i])
	if err != nil {
		return Path{}, err
	}
	if a.Sub != "" {
		return Path{}, Errorf(TypeInvalidPath, "path %q: a value filter applies to an attribute, not a sub-attribute", s)
	}
	f, err := ParseFilter(s[i+1 : j])
	if err != nil {
		return Path{}, Errorf(TypeInvalidPath, "path %q: %s", s, err.(*Error).Detail)
	}
	p := Path{Attr: a, Filter: f}
	if rest := s[j+1:]; rest != "" {
		sub, ok := strings.CutPrefix(rest, ".")
		if !ok || !attrName(sub) {
			return Path{}, Errorf(TypeInvalidPath, "path %q: expected .subAttribute after the filter", s)
		}
		p.Sub = sub
	}
	return p, nil
}
