package catalog_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// A policy's directory group and container are stored as the directory
// sync writes users' DNs (normalized), so one entry spelled two ways is
// one assignment; a container that is no DN, or a group name with '='
// that does not parse, is refused and nothing is written; local group
// names stay as written.
func TestPolicyDNsNormalized(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	noRefs := func(p *catalog.PolicyInput) *catalog.PolicyInput { // no templates or card types in this catalog
		p.Settings.Certificates.Required, p.Settings.Certificates.Optional, p.Settings.AllowedCards = []string{}, []string{}, []string{}
		return p
	}
	in := noRefs(catalog.NewPolicyInput())
	in.Name = "directory"
	in.Assignments = []lanyard.Assignment{
		{Kind: lanyard.AssignGroup, Name: "CN=Card Users, OU=Groups,DC=Example,DC=test"},
		{Kind: lanyard.AssignContainer, Name: "OU=Staff,DC=Example,DC=test"},
		{Kind: lanyard.AssignGroup, Name: "Local Group"},
	}
	p, err := e.cat.CreatePolicy(ctx, e.admin, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []lanyard.Assignment{
		{Kind: lanyard.AssignGroup, Name: "cn=card users,ou=groups,dc=example,dc=test"},
		{Kind: lanyard.AssignContainer, Name: "ou=staff,dc=example,dc=test"},
		{Kind: lanyard.AssignGroup, Name: "Local Group"},
	}
	got, err := e.cat.GetPolicy(ctx, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Assignments) != len(want) {
		t.Fatalf("assignments %+v, want %+v", got.Assignments, want)
	}
	for i := range want {
		if got.Assignments[i] != want[i] {
			t.Errorf("assignment %d = %+v, want %+v", i, got.Assignments[i], want[i])
		}
	}

	for _, tc := range []struct {
		what string
		as   []lanyard.Assignment
		want string
	}{
		{"container without '='", []lanyard.Assignment{{Kind: lanyard.AssignContainer, Name: "Staff"}}, "is not a distinguished name"},
		{"group DN that does not parse", []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: "CN=x,,=y"}}, "is not a distinguished name"},
		{"one container spelled twice", []lanyard.Assignment{
			{Kind: lanyard.AssignContainer, Name: "OU=Staff,DC=example,DC=test"},
			{Kind: lanyard.AssignContainer, Name: "ou=staff, dc=example, dc=test"},
		}, "is assigned twice"},
	} {
		bad := noRefs(catalog.NewPolicyInput())
		bad.Name, bad.Assignments = "bad", tc.as
		_, err := e.cat.CreatePolicy(ctx, e.admin, bad)
		servicetest.WantErr(t, tc.what, err, lanyard.EInvalid, tc.want)
		if _, err := e.cat.GetPolicy(ctx, "bad"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Fatalf("%s: refused policy stored (%v)", tc.what, err)
		}
	}
}
