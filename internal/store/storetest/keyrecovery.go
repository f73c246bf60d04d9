package storetest

import (
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testKeyRecoveryRequests pins down the key recovery requests: read back
// as written (no decider while pending), listed newest first and by
// state; an update from the state the request is in writes state,
// decider and comment, one from a state it left is a conflict (a second
// approver, a second download), one of a missing request is not found;
// a bad state and a missing archived key are refused.
func testKeyRecoveryRequests(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	olga := MustCreateUser(t, s, "olga")
	adam := MustCreateUser(t, s, "adam")
	var k *lanyard.ArchivedKey
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		card := NewCard("r001", alice.ID)
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		if err := tx.CreateKRAKey(&lanyard.KRAKey{Version: 1, SealedKey: []byte{1}, CreatedAt: t0}); err != nil {
			return err
		}
		k = &lanyard.ArchivedKey{OwnerID: alice.ID, CardID: card.ID, Template: "enc", Algorithm: lanyard.RSA2048, PublicKey: []byte{0x30},
			KRAVersion: 1, SealedKey: []byte{1}, State: lanyard.ArchivedKeyActive, CertificateSerial: "1a", CreatedAt: t0, UpdatedAt: t0}
		return tx.CreateArchivedKey(k)
	})
	req := func(at int64) *lanyard.KeyRecoveryRequest {
		return &lanyard.KeyRecoveryRequest{ArchivedKeyID: k.ID, OwnerID: alice.ID, RequestedBy: olga.ID, Reason: "alice left; her mail must be read",
			State: lanyard.KeyRecoveryPending, CreatedAt: t0.AddDate(0, 0, int(at)), UpdatedAt: t0.AddDate(0, 0, int(at)),
			OwnerEmail: "alice@example.com", ExpiresAt: t0.AddDate(0, 0, int(at)+7)}
	}
	first, second := req(1), req(2)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateKeyRecoveryRequest(first); err != nil {
			return err
		}
		return tx.CreateKeyRecoveryRequest(second)
	})
	if first.ID == 0 || second.ID == first.ID {
		t.Fatalf("IDs %d, %d", first.ID, second.ID)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.KeyRecoveryRequestByID(first.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("request: %+v, want %+v", got, first)
		}
		return nil
	})
	first.State, first.DecidedBy, first.Comment, first.UpdatedAt = lanyard.KeyRecoveryApproved, adam.ID, "ok per HR ticket 7", t0.AddDate(0, 0, 3)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateKeyRecoveryRequest(first, lanyard.KeyRecoveryPending) })
	again := *first
	again.State = lanyard.KeyRecoveryRejected
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateKeyRecoveryRequest(&again, lanyard.KeyRecoveryPending) })
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("deciding a decided request: %v, want conflict", err)
	}
	missing := *first
	missing.ID = first.ID + 100
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateKeyRecoveryRequest(&missing, lanyard.KeyRecoveryApproved) })
	if !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("updating a missing request: %v, want not found", err)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.KeyRecoveryRequestByID(first.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, first) {
			t.Errorf("decided request: %+v, want %+v", got, first)
		}
		all, err := tx.ListKeyRecoveryRequests("")
		if err != nil {
			return err
		}
		if len(all) != 2 || all[0].ID != second.ID || all[1].ID != first.ID {
			t.Errorf("all requests: %+v, want the second then the first", all)
		}
		pending, err := tx.ListKeyRecoveryRequests(lanyard.KeyRecoveryPending)
		if err != nil {
			return err
		}
		if len(pending) != 1 || pending[0].ID != second.ID {
			t.Errorf("pending requests: %+v, want the second", pending)
		}
		_, err = tx.KeyRecoveryRequestByID(first.ID + 100)
		if !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("missing request: %v, want not found", err)
		}
		return nil
	})
	bad := req(4)
	bad.State = "lost"
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateKeyRecoveryRequest(bad) }); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("bad state: %v, want invalid", err)
	}
	orphan := req(5)
	orphan.ArchivedKeyID = k.ID + 100
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateKeyRecoveryRequest(orphan) }); err == nil || lanyard.IsCode(err, lanyard.EInternal) {
		t.Errorf("missing archived key: %v, want a clear refusal", err)
	}
}

// MigrateKeyRecoveryChecks checks migration 0030_key_recovery_checks: a
// request made before it records its owner's current e-mail address and
// expires 7 days after it was made; the expired state is accepted.
func MigrateKeyRecoveryChecks(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0030_key_recovery_checks.sql")
	exec(`INSERT INTO users (login, email, created_at, updated_at) VALUES ('alice', 'alice@example.com', 0, 0)`)
	exec(`INSERT INTO users (login, created_at, updated_at) VALUES ('olga', 0, 0)`)
	exec(`INSERT INTO cards (serial, card_type, owner_id, state, created_at, updated_at) VALUES ('1', 'piv', 1, 'issued', 0, 0)`)
	exec(`INSERT INTO kra_keys (version, sealed_key, created_at) VALUES (1, ?, 0)`, []byte{1})
	exec(`INSERT INTO archived_keys (owner_id, card_id, template, key_algorithm, public_key, certificate_serial, kra_version, sealed_key, state, created_at, updated_at)
		VALUES (1, 1, 'enc', 'rsa2048', ?, '1a', 1, ?, 'active', 0, 0)`, []byte{0x30}, []byte{1})
	made := t0.Truncate(time.Microsecond)
	exec(`INSERT INTO key_recovery_requests (archived_key_id, owner_id, requested_by, reason, state, created_at, updated_at)
		VALUES (1, 1, 2, 'legal hold', 'pending', ?, ?)`, made.UnixMicro(), made.UnixMicro())
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		r, err := tx.KeyRecoveryRequestByID(1)
		if err != nil {
			return err
		}
		if want := made.Add(7 * 24 * time.Hour); r.OwnerEmail != "alice@example.com" || !r.ExpiresAt.Equal(want) {
			t.Errorf("request made before migration 0030: owner e-mail %q, expires %s; want alice's, %s", r.OwnerEmail, r.ExpiresAt, want)
		}
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		r, err := tx.KeyRecoveryRequestByID(1)
		if err != nil {
			return err
		}
		r.State = lanyard.KeyRecoveryExpired
		return tx.UpdateKeyRecoveryRequest(r, lanyard.KeyRecoveryPending)
	})
}
