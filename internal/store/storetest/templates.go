package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testTemplates(t *testing.T, s lanyard.Store) {
	type T = lanyard.Template
	testNamed(t, s, named[T]{
		kind:  "template",
		fresh: NewTemplate,
		bare: func(name string) *T {
			return &T{Name: name, CA: "builtin", ValidityDays: 1, Subject: lanyard.SubjectSpec{CommonName: "{login}"}, CreatedAt: t0, UpdatedAt: t0}
		},
		order: []string{"alpha", "beta", "gamma"},
		change: func(tp *T) {
			tp.DisplayName = "changed"
			tp.CA = "stepca"
			tp.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.ECP384}
			tp.ValidityDays = 30
			tp.KeyUsage = []string{lanyard.KUKeyAgreement}
			tp.ExtKeyUsage = []string{}
			tp.Subject = lanyard.SubjectSpec{CommonName: "{login}"}
			tp.Slot = "9d"
			tp.RequiresCAApproval, tp.RequiresFormApproval, tp.PromptKeyPassword, tp.KeyArchival, tp.CardKeysOnly = false, false, false, false, false
			tp.RevokeOnDisable = false
			tp.RenewalKey = lanyard.RenewalReuseKey
			tp.UpdatedAt = at(2 * time.Hour)
		},
		id:        func(tp *T) int64 { return tp.ID },
		setID:     func(tp *T, id int64) { tp.ID = id },
		name:      func(tp *T) string { return tp.Name },
		setName:   func(tp *T, n string) { tp.Name = n },
		createdAt: func(tp *T) *time.Time { return &tp.CreatedAt },
		lists: func(tp *T) map[string]bool {
			return map[string]bool{"KeyAlgs": tp.KeyAlgs == nil, "KeyUsage": tp.KeyUsage == nil, "ExtKeyUsage": tp.ExtKeyUsage == nil}
		},
		create: lanyard.Tx.CreateTemplate,
		update: lanyard.Tx.UpdateTemplate,
		byName: lanyard.Tx.TemplateByName,
		list:   lanyard.Tx.ListTemplates,
		delete: lanyard.Tx.DeleteTemplate,
	})
}
