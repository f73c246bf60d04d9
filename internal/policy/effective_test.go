package policy

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func pol(id int64, name string, prio int, as ...lanyard.Assignment) *lanyard.Policy {
	return &lanyard.Policy{ID: id, Name: name, Priority: prio, Assignments: as}
}

var (
	everyone = lanyard.Assignment{Kind: lanyard.AssignEveryone}
	alice    = lanyard.Assignment{Kind: lanyard.AssignUser, Name: "alice"}
	bob      = lanyard.Assignment{Kind: lanyard.AssignUser, Name: "bob"}
	staff    = lanyard.Assignment{Kind: lanyard.AssignGroup, Name: "staff"}
	admins   = lanyard.Assignment{Kind: lanyard.AssignGroup, Name: "admins"}
)

var (
	adaUser = &lanyard.User{Login: "ada", Source: lanyard.SourceLDAP, DN: "cn=ada,ou=people,dc=example,dc=test",
		Groups: []string{"cn=eng,ou=groups,dc=example,dc=test", "cn=staff,ou=groups,dc=example,dc=test"}}
	engDN    = lanyard.Assignment{Kind: lanyard.AssignGroup, Name: "cn=eng,ou=groups,dc=example,dc=test"}
	staffDN  = lanyard.Assignment{Kind: lanyard.AssignGroup, Name: "cn=staff,ou=groups,dc=example,dc=test"}
	peopleOU = container("ou=people,dc=example,dc=test")
)

func container(dn string) lanyard.Assignment {
	return lanyard.Assignment{Kind: lanyard.AssignContainer, Name: dn}
}

func TestEffective(t *testing.T) {
	aliceUser := &lanyard.User{Login: "alice", Groups: []string{"staff", "pki"}}
	tests := []struct {
		name     string
		user     *lanyard.User
		policies []*lanyard.Policy
		want     string // policy name; "" = none applies
	}{
		{"no policies", aliceUser, nil, ""},
		{"none applies", aliceUser, []*lanyard.Policy{pol(1, "bob", 1, bob), pol(2, "admins", 1, admins)}, ""},
		{"everyone applies", aliceUser, []*lanyard.Policy{pol(1, "all", 100, everyone)}, "all"},
		{"group applies", aliceUser, []*lanyard.Policy{pol(1, "bob", 1, bob), pol(2, "staff", 50, staff)}, "staff"},
		{"user applies", aliceUser, []*lanyard.Policy{pol(1, "alice", 50, alice)}, "alice"},
		{"login is matched exactly", &lanyard.User{Login: "Alice"}, []*lanyard.Policy{pol(1, "alice", 1, alice)}, ""},
		{"group name is not a login", &lanyard.User{Login: "staff"}, []*lanyard.Policy{pol(1, "staff", 1, staff)}, ""},
		{"login is not a group", &lanyard.User{Login: "x", Groups: []string{"alice"}}, []*lanyard.Policy{pol(1, "alice", 1, alice)}, ""},

		{"lowest priority number wins over specificity", aliceUser, []*lanyard.Policy{
			pol(1, "mine", 20, alice), pol(2, "staff", 10, staff), pol(3, "all", 30, everyone),
		}, "staff"},
		{"everyone with lowest number wins", aliceUser, []*lanyard.Policy{
			pol(1, "mine", 20, alice), pol(2, "all", 5, everyone),
		}, "all"},
		{"equal priority: user beats group", aliceUser, []*lanyard.Policy{
			pol(1, "a-staff", 10, staff), pol(2, "z-mine", 10, alice),
		}, "z-mine"},
		{"equal priority: group beats everyone", aliceUser, []*lanyard.Policy{
			pol(1, "a-all", 10, everyone), pol(2, "z-staff", 10, staff),
		}, "z-staff"},
		{"equal priority: user beats everyone", aliceUser, []*lanyard.Policy{
			pol(1, "a-all", 10, everyone), pol(2, "z-mine", 10, alice),
		}, "z-mine"},
		{"strongest assignment of a policy counts", aliceUser, []*lanyard.Policy{
			pol(1, "a-staff", 10, staff), pol(2, "z-mixed", 10, everyone, alice, admins),
		}, "z-mixed"},
		{"equal priority and kind: name order", aliceUser, []*lanyard.Policy{
			pol(1, "beta", 10, staff), pol(2, "alpha", 10, lanyard.Assignment{Kind: lanyard.AssignGroup, Name: "pki"}),
		}, "alpha"},
		{"nil entries skipped", aliceUser, []*lanyard.Policy{nil, pol(1, "all", 1, everyone), nil}, "all"},
		{"policy without assignments never applies", aliceUser, []*lanyard.Policy{pol(1, "orphan", 1)}, ""},

		// Directory users: the sync writes the normalized DNs of every group
		// the user is in, nested ones included, and the user's own DN.
		{"directory group by DN", adaUser, []*lanyard.Policy{pol(1, "eng", 10, engDN), pol(2, "all", 10, everyone)}, "eng"},
		{"nested directory group by DN", adaUser, []*lanyard.Policy{pol(1, "staff", 10, staffDN), pol(2, "all", 10, everyone)}, "staff"},
		{"container applies below it", adaUser, []*lanyard.Policy{pol(1, "people", 10, peopleOU)}, "people"},
		{"container applies at any depth", adaUser, []*lanyard.Policy{pol(1, "domain", 10, container("dc=example,dc=test"))}, "domain"},
		{"container is not the entry itself", adaUser, []*lanyard.Policy{pol(1, "self", 10, container(adaUser.DN))}, ""},
		{"container is matched on whole RDNs", adaUser, []*lanyard.Policy{pol(1, "partial", 10, container("eople,dc=example,dc=test"))}, ""},
		{"container of another branch", adaUser, []*lanyard.Policy{pol(1, "other", 10, container("ou=robots,dc=example,dc=test"))}, ""},
		{"escaped comma separates no RDNs", &lanyard.User{Login: "x", DN: `cn=x\,ou=admins,dc=example,dc=test`},
			[]*lanyard.Policy{pol(1, "admins", 10, container("ou=admins,dc=example,dc=test")), pol(2, "domain", 20, container("dc=example,dc=test"))}, "domain"},
		{"escaped backslash before a comma does separate", &lanyard.User{Login: "x", DN: `cn=x\\\\,ou=admins,dc=example,dc=test`},
			[]*lanyard.Policy{pol(1, "admins", 10, container("ou=admins,dc=example,dc=test"))}, "admins"},
		{"local user has no container", aliceUser, []*lanyard.Policy{pol(1, "domain", 1, container("dc=example,dc=test"))}, ""},
		{"equal priority: group beats container", adaUser, []*lanyard.Policy{
			pol(1, "a-people", 10, peopleOU), pol(2, "z-eng", 10, engDN),
		}, "z-eng"},
		{"equal priority: container beats everyone", adaUser, []*lanyard.Policy{
			pol(1, "a-all", 10, everyone), pol(2, "z-people", 10, peopleOU),
		}, "z-people"},
		{"lower number wins over a more specific container", adaUser, []*lanyard.Policy{
			pol(1, "people", 20, peopleOU), pol(2, "all", 10, everyone),
		}, "all"},

		{"disabled user gets none", &lanyard.User{Login: "alice", Groups: []string{"staff"}, Disabled: true},
			[]*lanyard.Policy{pol(1, "mine", 1, alice), pol(2, "all", 1, everyone)}, ""},
		{"nil user gets none", nil, []*lanyard.Policy{pol(1, "all", 1, everyone)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every order of the input must give the same answer.
			for _, ps := range rotations(tt.policies) {
				got, ok := Effective(tt.user, ps)
				switch {
				case tt.want == "" && (ok || got != nil):
					t.Fatalf("Effective = %v, %v; want none", got.Name, ok)
				case tt.want != "" && (!ok || got == nil):
					t.Fatalf("Effective = none; want %q", tt.want)
				case tt.want != "" && got.Name != tt.want:
					t.Fatalf("Effective = %q; want %q (order %v)", got.Name, tt.want, names(ps))
				}
			}
		})
	}
}

// Two policies with the same name cannot come from one store, but the
// result must still not depend on input order.
func TestEffectiveTieOnID(t *testing.T) {
	u := &lanyard.User{Login: "alice"}
	a, b := pol(7, "same", 1, everyone), pol(3, "same", 1, everyone)
	for _, ps := range rotations([]*lanyard.Policy{a, b}) {
		if got, _ := Effective(u, ps); got != b {
			t.Fatalf("Effective picked ID %d, want 3", got.ID)
		}
	}
}

// rotations returns ps, its reverse and every rotation of it.
func rotations(ps []*lanyard.Policy) [][]*lanyard.Policy {
	out := [][]*lanyard.Policy{ps}
	rev := make([]*lanyard.Policy, len(ps))
	for i, p := range ps {
		rev[len(ps)-1-i] = p
	}
	out = append(out, rev)
	for i := 1; i < len(ps); i++ {
		out = append(out, append(append([]*lanyard.Policy{}, ps[i:]...), ps[:i]...))
	}
	return out
}

func names(ps []*lanyard.Policy) []string {
	var out []string
	for _, p := range ps {
		if p != nil {
			out = append(out, p.Name)
		}
	}
	return out
}
