package storetest

import (
	"database/sql"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MigrateHeldPINs checks migration 0016_held_pins on issue records
// written before it (issue 14), as MigrateCardSecrets does 0013: the
// sealed PIN copies kept in the records (pin_copy and its fields,
// owner_pin) are erased, everything else in them stays, and records
// without a copy are untouched.
func MigrateHeldPINs(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0016_held_pins.sql")
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('alice', 0, 0)`)
	exec(`INSERT INTO cards (serial, card_type, owner_id, state, created_at, updated_at) VALUES ('1', 'piv', 1, 'issued', 0, 0)`)
	records := []string{
		`{"plan":{"slots":[]},"pin_set":true,"pin_copy":"c2VhbGVk","pin_copy_until":"2026-12-01T10:00:00Z","pin_copy_to":["user"],"owner_pin":"b3duZXI="}`,
		`{"plan":{"slots":[]},"pin_set":true,"pin_copy_mailed":"manager","owner_pin":"b3duZXI="}`,
		`{"plan":{"slots":[]},"pin_set":true}`,
	}
	for _, r := range records {
		exec(`INSERT INTO operations (kind, card_id, user_id, state, data, created_at, updated_at) VALUES ('issue', 1, 1, 'done', ?, 0, 0)`, []byte(r))
	}
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		for i := range records {
			op, err := tx.OperationByID(int64(i + 1))
			if err != nil {
				return err
			}
			var d map[string]any
			if err := json.Unmarshal(op.Data, &d); err != nil {
				t.Fatalf("operation %d after the migration: %v: %s", op.ID, err, op.Data)
			}
			if strings.Contains(string(op.Data), "pin_copy") || strings.Contains(string(op.Data), "owner_pin") || d["pin_set"] != true || d["plan"] == nil {
				t.Errorf("operation %d after the migration: %s", op.ID, op.Data)
			}
		}
		return nil
	})
}
