package storetest

import (
	"reflect"
	"testing"

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
