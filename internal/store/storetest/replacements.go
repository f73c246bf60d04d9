package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testCardReplacements pins down the links between replaced and replacing
// cards: read back as written from either side, newest first; a card is
// in one open replacement per side at a time (a second is a conflict),
// while an ended one frees both; a card does not replace itself.
func testCardReplacements(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	var c1, c2, c3 *lanyard.Card
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		c1, c2, c3 = NewCard("8201", alice.ID), NewCard("8202", alice.ID), NewCard("8203", alice.ID)
		for _, c := range []*lanyard.Card{c1, c2, c3} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	temp := &lanyard.CardReplacement{OldCardID: c1.ID, NewCardID: c2.ID, Kind: lanyard.ReplaceTemporary, State: lanyard.ReplacementPending,
		Reason: lanyard.CardLost, OwnerID: alice.ID, OldState: lanyard.CardDisabled, ActorID: alice.ID, CreatedAt: t0, UpdatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCardReplacement(temp) })
	if temp.ID == 0 {
		t.Fatal("no ID set")
	}
	refused := map[string]lanyard.CardReplacement{
		"the old card again": {OldCardID: c1.ID, NewCardID: c3.ID},
		"the new card again": {OldCardID: c3.ID, NewCardID: c2.ID},
	}
	for name, r := range refused {
		r.Kind, r.State, r.ActorID, r.CreatedAt, r.UpdatedAt = lanyard.ReplacePermanent, lanyard.ReplacementPending, alice.ID, t0, t0
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCardReplacement(&r) })
		if !lanyard.IsCode(err, lanyard.EConflict) {
			t.Errorf("%s: %v, want a conflict", name, err)
		}
	}
	self := lanyard.CardReplacement{OldCardID: c3.ID, NewCardID: c3.ID, Kind: lanyard.ReplacePermanent, State: lanyard.ReplacementPending, ActorID: alice.ID}
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCardReplacement(&self) }); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("a card replacing itself: %v, want invalid", err)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.OpenReplacementByNew(c2.ID)
		if err != nil {
			return err
		}
		if *got != *temp {
			t.Errorf("open replacement by new card: %+v, want %+v", got, temp)
		}
		if _, err := tx.OpenReplacementByNew(c1.ID); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("the old card as new: %v, want not found", err)
		}
		return nil
	})
	// The original found: the temporary replacement ends, and both cards
	// are free for another.
	temp.State, temp.UpdatedAt = lanyard.ReplacementEnded, t0.Add(5)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateCardReplacement(temp) })
	again := &lanyard.CardReplacement{OldCardID: c1.ID, NewCardID: c2.ID, Kind: lanyard.ReplacePermanent, State: lanyard.ReplacementActive,
		Reason: lanyard.CardDamaged, ActorID: alice.ID, CreatedAt: t0.Add(10), UpdatedAt: t0.Add(10)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCardReplacement(again) })
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, id := range []int64{c1.ID, c2.ID} {
			got, err := tx.CardReplacementsOf(id)
			if err != nil {
				return err
			}
			if len(got) != 2 || *got[0] != *again || *got[1] != *temp {
				t.Errorf("replacements of card %d: %d, want the permanent then the ended temporary one", id, len(got))
			}
		}
		got, err := tx.CardReplacementsOf(c3.ID)
		if err != nil {
			return err
		}
		if len(got) != 0 {
			t.Errorf("card 3 is in %d replacements, want none", len(got))
		}
		return nil
	})
	missing := &lanyard.CardReplacement{ID: 999999, Kind: lanyard.ReplacePermanent, State: lanyard.ReplacementActive, OldCardID: 1, NewCardID: 2}
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateCardReplacement(missing) }); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("updating a replacement that does not exist: %v, want not found", err)
	}
}
