package storetest

import (
	"database/sql"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MigrateReplacementOwner checks migration 0025_replacement_owner on links
// recorded before it: a link whose cards still share an owner gets that
// owner and stays open; one whose old card changed hands (issued to
// another user) or went back to stock, or one with a clean card, ends and
// has no owner where the cards' owners differ.
func MigrateReplacementOwner(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0025_replacement_owner.sql")
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('alice', 0, 0)`)
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('carol', 0, 0)`)
	for _, c := range []struct {
		serial string
		owner  any
		state  string
	}{
		{"1", 2, "issued"},   // alice's old card, issued to carol since
		{"2", 1, "issued"},   // alice's card that replaced it
		{"3", 1, "disabled"}, // alice's original of a temporary card
		{"4", 1, "issued"},   // the temporary card
		{"5", 1, "clean"},    // a card withdrawn to alice, replaced before
		{"6", 1, "issued"},
	} {
		exec(`INSERT INTO cards (serial, card_type, owner_id, state, created_at, updated_at) VALUES (?, 'piv', ?, ?, 0, 0)`, c.serial, c.owner, c.state)
	}
	link := `INSERT INTO card_replacements (old_card_id, new_card_id, kind, state, reason, actor_id, created_at, updated_at) VALUES (?, ?, ?, 'active', 'lost', 1, ?, 0)`
	exec(link, 1, 2, "permanent", 1)
	exec(link, 3, 4, "temporary", 2)
	exec(link, 5, 6, "permanent", 3)
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		want := map[int64]struct {
			owner int64
			state lanyard.ReplacementState
		}{2: {0, lanyard.ReplacementEnded}, 4: {1, lanyard.ReplacementActive}, 6: {1, lanyard.ReplacementEnded}}
		for newID, w := range want {
			links, err := tx.CardReplacementsOf(newID)
			if err != nil {
				return err
			}
			if len(links) != 1 || links[0].OwnerID != w.owner || links[0].State != w.state || links[0].OldState != "" {
				t.Errorf("link to card %d after 0025: %+v, want owner %d, %s, no old state", newID, links[0], w.owner, w.state)
			}
		}
		return nil
	})
}
