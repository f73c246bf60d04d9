package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// heldPINEnv is alice's two cards, each with an issue operation.
func heldPINEnv(t *testing.T, s lanyard.Store) (alice *lanyard.User, cards [2]*lanyard.Card, ops [2]*lanyard.Operation) {
	t.Helper()
	alice = MustCreateUser(t, s, "alice")
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, serial := range []string{"7001", "7002"} {
			cards[i] = NewCard(serial, alice.ID)
			if err := tx.CreateCard(cards[i]); err != nil {
				return err
			}
			ops[i] = &lanyard.Operation{Kind: lanyard.OpIssue, CardID: cards[i].ID, UserID: alice.ID, State: lanyard.OpDone, CreatedAt: t0, UpdatedAt: t0}
			if err := tx.CreateOperation(ops[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return alice, cards, ops
}

// testHeldPINs pins down held PINs: one per (operation, purpose), read
// back as written; a mail copy is marked mailed once (its PIN emptied),
// an owner copy deleted once; a card's copies go with DeleteCardHeldPINs;
// DeleteExpiredHeldPINs takes exactly the expired ones, whatever their
// operation's state.
func testHeldPINs(t *testing.T, s lanyard.Store) {
	alice, cards, ops := heldPINEnv(t, s)
	mail := &lanyard.HeldPIN{OperationID: ops[0].ID, Purpose: lanyard.HeldPINMail, CardID: cards[0].ID, OwnerID: alice.ID,
		Sealed: []byte{0, 1, 0xff, 's'}, CreatedAt: t0, ExpiresAt: at(15 * time.Minute),
		Recipients: []lanyard.HeldPINRecipient{{To: "user", Address: "alice@example.test"}, {To: "manager", Address: "boss@example.test"}}}
	owner := &lanyard.HeldPIN{OperationID: ops[0].ID, Purpose: lanyard.HeldPINOwner, CardID: cards[0].ID, OwnerID: alice.ID,
		Sealed: []byte("owner"), CreatedAt: at(time.Second), ExpiresAt: at(30 * 24 * time.Hour)}
	other := &lanyard.HeldPIN{OperationID: ops[1].ID, Purpose: lanyard.HeldPINOwner, CardID: cards[1].ID, OwnerID: alice.ID,
		Sealed: []byte("other"), CreatedAt: at(time.Minute), ExpiresAt: at(time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, h := range []*lanyard.HeldPIN{mail, owner, other} {
			if err := tx.CreateHeldPIN(h); err != nil {
				return err
			}
		}
		return nil
	})
	if owner.Recipients == nil {
		t.Error("CreateHeldPIN left Recipients nil")
	}
	again := *owner
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateHeldPIN(&again) })
	wantCode(t, "CreateHeldPIN twice for one purpose", err, lanyard.EConflict)
	bad := *owner
	bad.OperationID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateHeldPIN(&bad) })
	wantCode(t, "CreateHeldPIN of a missing operation", err, lanyard.EInvalid)

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.HeldPIN(ops[0].ID, lanyard.HeldPINMail)
		if err != nil {
			return err
		}
		equal(t, "HeldPIN mail", got, mail)
		if got.Recipient("manager") != "boss@example.test" || got.Recipient("nobody") != "" {
			t.Errorf("Recipient: %+v", got.Recipients)
		}
		_, err = tx.HeldPIN(ops[1].ID, lanyard.HeldPINMail)
		wantCode(t, "HeldPIN none", err, lanyard.ENotFound)
		list, err := tx.HeldPINsOf(alice.ID, lanyard.HeldPINOwner)
		if err != nil {
			return err
		}
		equal(t, "HeldPINsOf", list, []*lanyard.HeldPIN{owner, other})
		none, err := tx.HeldPINsOf(alice.ID+1000, lanyard.HeldPINOwner)
		if err == nil && (none == nil || len(none) != 0) {
			t.Errorf("HeldPINsOf nobody: %v", none)
		}
		return err
	})

	// A mail copy is mailed once: the PIN goes, the marker stays.
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.MarkHeldPINMailed(ops[0].ID, "manager") })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.MarkHeldPINMailed(ops[0].ID, "user") })
	wantCode(t, "MarkHeldPINMailed twice", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.MarkHeldPINMailed(ops[1].ID, "user") })
	wantCode(t, "MarkHeldPINMailed none", err, lanyard.ENotFound)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.HeldPIN(ops[0].ID, lanyard.HeldPINMail)
		if err == nil && (got.Sealed != nil || got.MailedTo != "manager") {
			t.Errorf("after MarkHeldPINMailed: sealed %x, mailed to %q", got.Sealed, got.MailedTo)
		}
		return err
	})

	// An owner copy is taken once.
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteHeldPIN(ops[1].ID, lanyard.HeldPINOwner) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteHeldPIN(ops[1].ID, lanyard.HeldPINOwner) })
	wantCode(t, "DeleteHeldPIN twice", err, lanyard.ENotFound)

	// A card's copies go with the card's clearing.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		n, err := tx.DeleteCardHeldPINs(cards[0].ID)
		if err == nil && n != 2 {
			t.Errorf("DeleteCardHeldPINs: %d, want 2", n)
		}
		return err
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		list, err := tx.HeldPINsOf(alice.ID, lanyard.HeldPINOwner)
		if err == nil && len(list) != 0 {
			t.Errorf("after DeleteCardHeldPINs: %d left", len(list))
		}
		return err
	})
}

// testHeldPINsExpire pins down the purge: expired copies go (ExpiresAt
// not after now), whatever their operation's state, the others stay.
func testHeldPINsExpire(t *testing.T, s lanyard.Store) {
	alice, cards, ops := heldPINEnv(t, s)
	failed := *ops[1]
	failed.State, failed.UpdatedAt = lanyard.OpFailed, at(time.Second)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateOperation(&failed, ops[1].UpdatedAt) })
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, exp := range []time.Duration{time.Hour, time.Minute} {
			for _, p := range []lanyard.HeldPINPurpose{lanyard.HeldPINMail, lanyard.HeldPINOwner} {
				if err := tx.CreateHeldPIN(&lanyard.HeldPIN{OperationID: ops[i].ID, Purpose: p, CardID: cards[i].ID, OwnerID: alice.ID,
					Sealed: []byte("x"), CreatedAt: t0, ExpiresAt: at(exp)}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	purge := func(now time.Time, want ...int64) {
		t.Helper()
		MustUpdate(t, s, func(tx lanyard.Tx) error {
			ids, err := tx.DeleteExpiredHeldPINs(now)
			if err == nil && (len(ids) != len(want) || (len(want) > 0 && (ids[0] != want[0] || ids[len(ids)-1] != want[len(want)-1]))) {
				t.Errorf("DeleteExpiredHeldPINs(%v): %v, want %v", now, ids, want)
			}
			return err
		})
	}
	purge(at(time.Minute - time.Microsecond))
	purge(at(time.Minute), ops[1].ID, ops[1].ID)
	purge(at(time.Minute))
	MustView(t, s, func(tx lanyard.Tx) error {
		list, err := tx.HeldPINsOf(alice.ID, lanyard.HeldPINOwner)
		if err == nil && (len(list) != 1 || list[0].OperationID != ops[0].ID) {
			t.Errorf("after the purge: %d left", len(list))
		}
		return err
	})
}

// testHeldPINTakeConcurrent: of requests racing to take one copy (mail
// it, or show it), exactly one succeeds.
func testHeldPINTakeConcurrent(t *testing.T, s lanyard.Store) {
	alice, cards, ops := heldPINEnv(t, s)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, p := range []lanyard.HeldPINPurpose{lanyard.HeldPINMail, lanyard.HeldPINOwner} {
			if err := tx.CreateHeldPIN(&lanyard.HeldPIN{OperationID: ops[0].ID, Purpose: p, CardID: cards[0].ID, OwnerID: alice.ID,
				Sealed: []byte("x"), CreatedAt: t0, ExpiresAt: at(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	for name, take := range map[string]func(tx lanyard.Tx) error{
		"mail": func(tx lanyard.Tx) error { return tx.MarkHeldPINMailed(ops[0].ID, "user") },
		"show": func(tx lanyard.Tx) error { return tx.DeleteHeldPIN(ops[0].ID, lanyard.HeldPINOwner) },
	} {
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range n {
			wg.Go(func() {
				err := s.Update(t.Context(), func(tx lanyard.Tx) error {
					if _, err := tx.HeldPIN(ops[0].ID, lanyard.HeldPINMail); err != nil {
						return err
					}
					return take(tx)
				})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case !lanyard.IsCode(err, lanyard.EConflict) && !lanyard.IsCode(err, lanyard.ENotFound):
					t.Errorf("%s: %v", name, err)
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%s: %d of %d requests took the copy, want 1", name, won, n)
		}
	}
}
