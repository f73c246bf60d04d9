package storetest

import (
	"database/sql"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MigrateCardPermissions checks migration 0017_card_permissions on
// policies saved before it: a policy without the sections gets the
// defaults of a new policy, one that has them keeps its choices, and the
// rest of every document stays.
func MigrateCardPermissions(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0017_card_permissions.sql")
	exec(`INSERT INTO policies (name, description, priority, settings, assignments, created_at, updated_at) VALUES ('old', '', 10, ?, '[]', 0, 0)`,
		`{"workflow":{"issue_card":true,"issue_aircard":true},"allowed_card_types":["piv"]}`)
	exec(`INSERT INTO policies (name, description, priority, settings, assignments, created_at, updated_at) VALUES ('set', '', 20, ?, '[]', 0, 0)`,
		`{"workflow":{"issue_card":false,"issued_card_operations":{"change_pin":true},"administrator_permissions":{"validate_answers":false}}}`)
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		old, err := tx.PolicyByName("old")
		if err != nil {
			return err
		}
		w := old.Settings.Workflow
		want := lanyard.IssuedCardOperations{ChangePIN: true, ResetPIN: true, Disable: true, Enable: true, Revoke: true, Clear: true}
		if w.IssuedCardOps != want || w.Administrator != (lanyard.AdministratorPermissions{ResetUserPIN: true, UnblockOffline: true, ValidateAnswers: true}) {
			t.Errorf("policy saved before 0017: %+v / %+v, want the defaults", w.IssuedCardOps, w.Administrator)
		}
		if !w.IssueCard || !w.IssueAirCard || len(old.Settings.AllowedCards) != 1 {
			t.Errorf("0017 changed the rest of the policy: %+v", old.Settings)
		}
		set, err := tx.PolicyByName("set")
		if err != nil {
			return err
		}
		if w := set.Settings.Workflow; w.IssuedCardOps != (lanyard.IssuedCardOperations{ChangePIN: true}) || w.Administrator != (lanyard.AdministratorPermissions{}) || w.IssueCard {
			t.Errorf("a policy that had the sections lost its choices: %+v", w)
		}
		return nil
	})
}
