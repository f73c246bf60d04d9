package lanyard_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestPrincipalStaff pins who counts as staff for certificates and for
// cards, and whose workstations a principal works with.
func TestPrincipalStaff(t *testing.T) {
	tests := []struct {
		role            lanyard.Role
		staff, cardWork bool
	}{
		{lanyard.RoleUser, false, false},
		{lanyard.RoleOperator, true, true},
		{lanyard.RoleAdministrator, true, true},
		{lanyard.RoleCAManager, true, false}, // decides requests, never writes a card
		{lanyard.RoleDocumentOfficer, false, false},
		{lanyard.RoleAuditor, false, false},
	}
	for _, tt := range tests {
		p := &lanyard.Principal{User: &lanyard.User{ID: 7}, Roles: lanyard.Roles{tt.role}}
		if got := p.IsStaff(); got != tt.staff {
			t.Errorf("%s: IsStaff() = %v, want %v", tt.role, got, tt.staff)
		}
		if got := p.IsCardStaff(); got != tt.cardWork {
			t.Errorf("%s: IsCardStaff() = %v, want %v", tt.role, got, tt.cardWork)
		}
		want := int64(7)
		if tt.cardWork {
			want = 0
		}
		if got := p.OwnerScope(); got != want {
			t.Errorf("%s: OwnerScope() = %d, want %d", tt.role, got, want)
		}
	}
	var none *lanyard.Principal
	if none.Has(lanyard.RoleUser) || none.IsStaff() || none.IsCardStaff() {
		t.Error("a nil principal holds a role")
	}
	if !lanyard.SystemPrincipal.Has(lanyard.RoleAdministrator) || lanyard.SystemPrincipal.User.Login != "system" {
		t.Errorf("SystemPrincipal = %+v", lanyard.SystemPrincipal)
	}
}
