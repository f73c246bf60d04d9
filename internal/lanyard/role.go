package lanyard

import "slices"

// Role is what a person may do in Lanyard. Roles are checked on every API
// call; API tokens carry a subset of their owner's roles.
type Role string

const (
	RoleUser            Role = "user"             // issues and manages own cards
	RoleOperator        Role = "operator"         // help desk: acts on users' cards
	RoleAdministrator   Role = "administrator"    // policies, card types, templates, settings
	RoleDocumentOfficer Role = "document_officer" // reviews uploaded documents
	RoleCAManager       Role = "ca_manager"       // approves pending certificate requests
	RoleAuditor         Role = "auditor"          // reads the audit log
)

// AllRoles lists every role in display order.
var AllRoles = []Role{RoleUser, RoleOperator, RoleAdministrator, RoleDocumentOfficer, RoleCAManager, RoleAuditor}

// StaffRoles are the roles beyond user: they act on other people's
// accounts, cards, documents, certificates or the audit log, and sign in
// with a second factor.
var StaffRoles = []Role{RoleOperator, RoleAdministrator, RoleDocumentOfficer, RoleCAManager, RoleAuditor}

// Staff reports whether rs holds any staff role.
func (rs Roles) Staff() bool { return rs.Has(StaffRoles...) }

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(AllRoles, r) }

// Roles is a set of roles kept as a sorted, duplicate-free slice so that it
// stores and compares predictably.
type Roles []Role

// Has reports whether any of want is in rs.
func (rs Roles) Has(want ...Role) bool {
	for _, w := range want {
		if slices.Contains(rs, w) {
			return true
		}
	}
	return false
}

// Normalize returns rs sorted in AllRoles order without duplicates, or an
// error naming the first unknown role.
func (rs Roles) Normalize() (Roles, error) {
	out := Roles{}
	for _, r := range AllRoles {
		if slices.Contains(rs, r) {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		if !r.Valid() {
			return nil, Errorf(EInvalid, "unknown role %q", r)
		}
	}
	return out, nil
}

// Intersect returns the roles present in both rs and other.
func (rs Roles) Intersect(other Roles) Roles {
	out := Roles{}
	for _, r := range rs {
		if slices.Contains(other, r) {
			out = append(out, r)
		}
	}
	return out
}
