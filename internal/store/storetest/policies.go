package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testPolicies(t *testing.T, s lanyard.Store) {
	type P = lanyard.Policy
	// Priorities make the list order (lowest number first, then name)
	// differ from the name order.
	priority := map[string]int{"beta": 1, "alpha": 2, "gamma": 1}
	testNamed(t, s, named[P]{
		kind:  "policy",
		fresh: func(name string) *P { return NewPolicy(name, priority[name]) },
		bare: func(name string) *P {
			return &P{Name: name, Priority: priority[name], CreatedAt: t0, UpdatedAt: t0}
		},
		order: []string{"beta", "gamma", "alpha"},
		change: func(p *P) {
			p.Description = "changed"
			p.Priority = 9
			p.Settings = lanyard.PolicySettings{
				AllowedCards: []string{"piv"},
				Certificates: lanyard.CertificateSettings{Optional: []string{"mail"}},
				Documents:    lanyard.DocumentsSettings{Check: lanyard.DocsNone},
			}
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: "admins"}}
			p.UpdatedAt = at(2 * time.Hour)
		},
		id:        func(p *P) int64 { return p.ID },
		setID:     func(p *P, id int64) { p.ID = id },
		name:      func(p *P) string { return p.Name },
		setName:   func(p *P, n string) { p.Name = n },
		createdAt: func(p *P) *time.Time { return &p.CreatedAt },
		lists:     func(p *P) map[string]bool { return map[string]bool{"Assignments": p.Assignments == nil} },
		create:    lanyard.Tx.CreatePolicy,
		update:    lanyard.Tx.UpdatePolicy,
		byName:    lanyard.Tx.PolicyByName,
		list:      lanyard.Tx.ListPolicies,
		delete:    lanyard.Tx.DeletePolicy,
	})
}
