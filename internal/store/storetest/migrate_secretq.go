package storetest

import (
	"database/sql"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// MigrateSecretQuestions checks migration 0019_secret_questions: a
// policy saved before it gets the default secret questions, one that has
// the section keeps it, the rest of every document stays, and users made
// before it start with no wrong answers and no lock.
func MigrateSecretQuestions(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0019_secret_questions.sql")
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('alice', 0, 0)`)
	exec(`INSERT INTO policies (name, description, priority, settings, assignments, created_at, updated_at) VALUES ('old', '', 10, ?, '[]', 0, 0)`,
		`{"workflow":{"issue_card":true},"allowed_card_types":["piv"]}`)
	exec(`INSERT INTO policies (name, description, priority, settings, assignments, created_at, updated_at) VALUES ('set', '', 20, ?, '[]', 0, 0)`,
		`{"workflow":{"issue_card":false},"authentication":{"secret_questions":{"questions":["Q?"],"asked":1,"min_answer_length":4,"wrong_before_lock":2}}}`)
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		old, err := tx.PolicyByName("old")
		if err != nil {
			return err
		}
		want := policy.Defaults().Authentication.SecretQuestions
		got := old.Settings.Authentication.SecretQuestions
		if !slices.Equal(got.Questions, want.Questions) || got.Asked != 3 || got.MinAnswerLength != 3 || got.WrongBeforeLock != 5 {
			t.Errorf("policy saved before 0019: %+v, want the defaults %+v", got, want)
		}
		if !old.Settings.Workflow.IssueCard || len(old.Settings.AllowedCards) != 1 {
			t.Errorf("0019 changed the rest of the policy: %+v", old.Settings)
		}
		set, err := tx.PolicyByName("set")
		if err != nil {
			return err
		}
		if q := set.Settings.Authentication.SecretQuestions; !slices.Equal(q.Questions, []string{"Q?"}) || q.Asked != 1 || q.MinAnswerLength != 4 || q.WrongBeforeLock != 2 {
			t.Errorf("a policy that had the section lost its choices: %+v", q)
		}
		alice, err := tx.UserByLogin("alice")
		if err != nil {
			return err
		}
		l, err := tx.SecretLock(alice.ID)
		if err != nil {
			return err
		}
		if l != (lanyard.SecretLock{}) {
			t.Errorf("a user made before 0019: %+v, want no failures and no lock", l)
		}
		return nil
	})
}
