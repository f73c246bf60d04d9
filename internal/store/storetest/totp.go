package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testTOTP pins down the TOTP enrollment contract: one per user, an
// unconfirmed one is replaced, a confirmed one is not; the step update is
// a compare-and-set, so a code is accepted once even when two requests
// race; deleting a user's enrollment makes room for a new one.
func testTOTP(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	err := s.View(t.Context(), func(tx lanyard.Tx) error { _, err := tx.TOTPEnrollment(alice.ID); return err })
	wantCode(t, "TOTPEnrollment none", err, lanyard.ENotFound)

	first := &lanyard.TOTPEnrollment{UserID: alice.ID, SealedSecret: []byte{0x01, 0x00, 0xff, 's', '1'}, CreatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutTOTPEnrollment(first) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		if err != nil {
			return err
		}
		equal(t, "TOTPEnrollment", got, first)
		wantTime(t, "CreatedAt", got.CreatedAt, t0)
		if got.Confirmed() || !got.ConfirmedAt.IsZero() {
			t.Errorf("a new enrollment is confirmed: %v", got.ConfirmedAt)
		}
		_, err = tx.TOTPEnrollment(bob.ID)
		wantCode(t, "TOTPEnrollment of another user", err, lanyard.ENotFound)
		return nil
	})

	// An unconfirmed enrollment is replaced by a new one.
	second := &lanyard.TOTPEnrollment{UserID: alice.ID, SealedSecret: []byte("sealed-2"), LastStep: 3, CreatedAt: at(time.Minute)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutTOTPEnrollment(second) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		equal(t, "replaced TOTPEnrollment", got, second)
		return err
	})

	// The update is a compare-and-set on the secret and the last step.
	stale := *first
	stale.ConfirmedAt, stale.LastStep = at(2*time.Minute), 10
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(&stale, 0) })
	wantCode(t, "UpdateTOTPEnrollment of a replaced enrollment", err, lanyard.EConflict)
	confirmed := *second
	confirmed.ConfirmedAt, confirmed.LastStep = at(2*time.Minute), 10
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(&confirmed, 2) })
	wantCode(t, "UpdateTOTPEnrollment with a wrong previous step", err, lanyard.EConflict)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(&confirmed, 3) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateTOTPEnrollment(&confirmed, 3) })
	wantCode(t, "UpdateTOTPEnrollment twice from the same step", err, lanyard.EConflict)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		equal(t, "confirmed TOTPEnrollment", got, &confirmed)
		if !got.Confirmed() {
			t.Error("the confirmed enrollment does not say so")
		}
		return err
	})

	// A confirmed enrollment is not replaced: it must be deleted first.
	third := &lanyard.TOTPEnrollment{UserID: alice.ID, SealedSecret: []byte("sealed-3"), CreatedAt: at(time.Hour)}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.PutTOTPEnrollment(third) })
	wantCode(t, "PutTOTPEnrollment over a confirmed one", err, lanyard.EConflict)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		equal(t, "TOTPEnrollment after a refused replacement", got, &confirmed)
		return err
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.PutTOTPEnrollment(&lanyard.TOTPEnrollment{UserID: 999_999, SealedSecret: []byte("x"), CreatedAt: t0})
	})
	wantCode(t, "PutTOTPEnrollment for a missing user", err, lanyard.EInvalid)

	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteTOTPEnrollment(alice.ID) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteTOTPEnrollment(alice.ID) })
	wantCode(t, "DeleteTOTPEnrollment twice", err, lanyard.ENotFound)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutTOTPEnrollment(third) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		equal(t, "TOTPEnrollment after delete and put", got, third)
		return err
	})
}

// testTOTPConcurrent uses one time step from many transactions at once:
// exactly one of them may succeed, on every engine.
func testTOTPConcurrent(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	e := &lanyard.TOTPEnrollment{UserID: alice.ID, SealedSecret: []byte("sealed"), ConfirmedAt: t0, CreatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutTOTPEnrollment(e) })
	ok := checkThenWrite(t, s, 8, func(tx lanyard.Tx, _ int, checked func()) error {
		got, err := tx.TOTPEnrollment(alice.ID)
		if err != nil {
			return err
		}
		if got.LastStep >= 7 {
			return lanyard.Errorf(lanyard.EConflict, "already used")
		}
		checked()
		prev := got.LastStep
		got.LastStep = 7
		return tx.UpdateTOTPEnrollment(got, prev)
	})
	if ok != 1 {
		t.Errorf("%d concurrent uses of one step succeeded, want 1", ok)
	}
}
