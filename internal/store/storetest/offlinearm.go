package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testOfflineArms pins down the record of TPM virtual cards' armed
// offline unblock codes: none until the first is put, read back as
// written, one per card (a new arm replaces the last), and a card that
// does not exist is refused.
func testOfflineArms(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	var c1, c2 *lanyard.Card
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		c1, c2 = NewCard("8201", alice.ID), NewCard("8202", alice.ID)
		if err := tx.CreateCard(c1); err != nil {
			return err
		}
		return tx.CreateCard(c2)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		if _, err := tx.OfflineArmOf(c1.ID); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("before any arm: %v, want not found", err)
		}
		return nil
	})
	first := &lanyard.OfflineArm{CardID: c1.ID, Counter: 1, Nonce: 1<<35 + 9, KeyVersion: 2, State: lanyard.OfflineArming, UpdatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutOfflineArm(first) })
	other := &lanyard.OfflineArm{CardID: c2.ID, Counter: 5, Nonce: 3, KeyVersion: 1, State: lanyard.OfflineUnavailable, UpdatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutOfflineArm(other) })
	next := &lanyard.OfflineArm{CardID: c1.ID, Counter: 2, Nonce: 7, KeyVersion: 3, State: lanyard.OfflineArmed, UpdatedAt: t0.Add(5)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutOfflineArm(next) })
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.OfflineArm{next, other} {
			got, err := tx.OfflineArmOf(want.CardID)
			if err != nil {
				return err
			}
			if *got != *want {
				t.Errorf("read back %+v, want %+v", got, want)
			}
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.PutOfflineArm(&lanyard.OfflineArm{CardID: 999999, Counter: 1, State: lanyard.OfflineArming, UpdatedAt: t0})
	})
	if err == nil {
		t.Fatal("an arm for a card that does not exist was recorded")
	}
}
