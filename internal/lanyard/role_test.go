package lanyard_test

import (
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestRoleValid(t *testing.T) {
	tests := []struct {
		role lanyard.Role
		want bool
	}{
		{lanyard.RoleUser, true},
		{lanyard.RoleOperator, true},
		{lanyard.RoleAdministrator, true},
		{lanyard.RoleDocumentOfficer, true},
		{lanyard.RoleCAManager, true},
		{lanyard.RoleAuditor, true},
		{"", false},
		{"User", false}, // case-sensitive
		{"admin", false},
		{"root", false},
		{" user", false},
		{"document-officer", false},
	}
	for _, tt := range tests {
		if got := tt.role.Valid(); got != tt.want {
			t.Errorf("Role(%q).Valid() = %v, want %v", tt.role, got, tt.want)
		}
	}
	want := []lanyard.Role{"user", "operator", "administrator", "document_officer", "ca_manager", "auditor"}
	if !slices.Equal(lanyard.AllRoles, want) {
		t.Errorf("AllRoles = %q, want %q", lanyard.AllRoles, want)
	}
}

func TestRolesHas(t *testing.T) {
	staff := lanyard.Roles{lanyard.RoleOperator, lanyard.RoleAuditor}
	tests := []struct {
		name string
		rs   lanyard.Roles
		want []lanyard.Role
		ok   bool
	}{
		{"one present", staff, []lanyard.Role{lanyard.RoleAuditor}, true},
		{"one absent", staff, []lanyard.Role{lanyard.RoleAdministrator}, false},
		{"any of several", staff, []lanyard.Role{lanyard.RoleAdministrator, lanyard.RoleOperator}, true},
		{"none of several", staff, []lanyard.Role{lanyard.RoleAdministrator, lanyard.RoleCAManager}, false},
		{"no wanted roles", staff, nil, false},
		{"nil set", nil, []lanyard.Role{lanyard.RoleUser}, false},
		{"empty role is not held", staff, []lanyard.Role{""}, false},
	}
	for _, tt := range tests {
		if got := tt.rs.Has(tt.want...); got != tt.ok {
			t.Errorf("%s: %q.Has(%q) = %v, want %v", tt.name, tt.rs, tt.want, got, tt.ok)
		}
	}
}

func TestRolesNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      lanyard.Roles
		want    lanyard.Roles
		wantErr string
	}{
		{"nil", nil, lanyard.Roles{}, ""},
		{"empty", lanyard.Roles{}, lanyard.Roles{}, ""},
		{"already normal", lanyard.Roles{"user", "auditor"}, lanyard.Roles{"user", "auditor"}, ""},
		{"reordered", lanyard.Roles{"auditor", "ca_manager", "user", "operator"}, lanyard.Roles{"user", "operator", "ca_manager", "auditor"}, ""},
		{"duplicates", lanyard.Roles{"operator", "user", "operator", "user", "user"}, lanyard.Roles{"user", "operator"}, ""},
		{"all reversed", lanyard.Roles{"auditor", "ca_manager", "document_officer", "administrator", "operator", "user"}, lanyard.AllRoles, ""},
		{"unknown", lanyard.Roles{"user", "root"}, nil, `unknown role "root"`},
		{"first unknown is named", lanyard.Roles{"user", "wizard", "root"}, nil, `unknown role "wizard"`},
		{"unknown first in list", lanyard.Roles{"ghost", "user"}, nil, `unknown role "ghost"`},
		{"empty role", lanyard.Roles{"user", ""}, nil, `unknown role ""`},
		{"wrong case", lanyard.Roles{"Auditor"}, nil, `unknown role "Auditor"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			got, err := tt.in.Normalize()
			checkInvalid(t, err, tt.wantErr)
			if tt.wantErr != "" {
				if got != nil {
					t.Errorf("Normalize returned %q with an error", got)
				}
				return
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("Normalize(%q) = %#v, want %q", tt.in, got, tt.want)
			}
			if !slices.Equal(tt.in, in) {
				t.Errorf("Normalize changed its receiver: %q, was %q", tt.in, in)
			}
			again, err := got.Normalize()
			if err != nil || !slices.Equal(again, got) {
				t.Errorf("Normalize is not idempotent: %q, %v", again, err)
			}
		})
	}
}

func TestRolesIntersect(t *testing.T) {
	tests := []struct {
		name         string
		owner, scope lanyard.Roles
		want         lanyard.Roles
	}{
		{"token narrower than owner", lanyard.Roles{"user", "operator", "auditor"}, lanyard.Roles{"auditor"}, lanyard.Roles{"auditor"}},
		{"token asks for more than owner", lanyard.Roles{"user"}, lanyard.Roles{"user", "administrator"}, lanyard.Roles{"user"}},
		{"overlap keeps order", lanyard.Roles{"user", "operator", "administrator", "auditor"}, lanyard.Roles{"operator", "auditor"}, lanyard.Roles{"operator", "auditor"}},
		{"disjoint", lanyard.Roles{"user"}, lanyard.Roles{"auditor"}, lanyard.Roles{}},
		{"nil receiver", nil, lanyard.Roles{"user"}, lanyard.Roles{}},
		{"nil other", lanyard.Roles{"user"}, nil, lanyard.Roles{}},
		{"identical", lanyard.AllRoles, lanyard.AllRoles, lanyard.AllRoles},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.owner.Intersect(tt.scope)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("%q ∩ %q = %#v, want %q", tt.owner, tt.scope, got, tt.want)
			}
			if back := tt.scope.Intersect(tt.owner); !slices.Equal(back, tt.want) {
				t.Errorf("not symmetric for normalized sets: %q ∩ %q = %q", tt.scope, tt.owner, back)
			}
			if len(got) > 0 {
				before := slices.Clone(tt.owner)
				got[0] = "mutated"
				if !slices.Equal(tt.owner, before) {
					t.Errorf("Intersect result aliases its receiver")
				}
			}
		})
	}
}
