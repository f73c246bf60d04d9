package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testOfflineUnblocks pins down the record of offline unblock responses:
// read back as written, in order; the same challenge (card, scheme,
// counter, nonce) is refused a second time, while another nonce, counter
// or card is not; a card or user that does not exist is refused.
func testOfflineUnblocks(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	var c1, c2 *lanyard.Card
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		c1, c2 = NewCard("8101", alice.ID), NewCard("8102", alice.ID)
		if err := tx.CreateCard(c1); err != nil {
			return err
		}
		return tx.CreateCard(c2)
	})
	first := &lanyard.OfflineUnblock{CardID: c1.ID, Scheme: "lanyard-mac", Counter: 3, Nonce: 1<<35 + 5, Channel: "console", ActorID: alice.ID, AnswersChecked: true, CreatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOfflineUnblock(first) })
	if first.ID == 0 {
		t.Fatal("no ID set")
	}
	for _, u := range map[string]lanyard.OfflineUnblock{
		"another nonce":   {CardID: c1.ID, Scheme: "lanyard-mac", Counter: 3, Nonce: 6},
		"another counter": {CardID: c1.ID, Scheme: "lanyard-mac", Counter: 4, Nonce: 1<<35 + 5},
		"another card":    {CardID: c2.ID, Scheme: "lanyard-mac", Counter: 3, Nonce: 1<<35 + 5},
		"another scheme":  {CardID: c1.ID, Scheme: "piv-puk", Counter: 3, Nonce: 1<<35 + 5},
	} {
		u.Channel, u.ActorID, u.CreatedAt = "rss", alice.ID, t0.Add(1)
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOfflineUnblock(&u) })
	}
	again := *first
	again.ID = 0
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateOfflineUnblock(&again) })
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("the same challenge twice: %v, want a conflict", err)
	}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateOfflineUnblock(&lanyard.OfflineUnblock{CardID: 999999, Scheme: "lanyard-mac", Channel: "console", ActorID: alice.ID, CreatedAt: t0})
	})
	if err == nil {
		t.Fatal("a response for a card that does not exist was recorded")
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.OfflineUnblocksOf(c1.ID)
		if err != nil {
			return err
		}
		if len(got) != 4 || *got[0] != *first {
			t.Errorf("card 1's responses: %d, first %+v, want 4 starting with %+v", len(got), got[0], first)
		}
		return nil
	})
}
