package storetest

import (
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testCardPINStatus pins down the cards' last known PIN status: none is
// ENotFound; a status reads back as written, with where it was seen or
// without a workstation; a second one replaces the first; the PINBlocked
// filter lists exactly the cards last seen blocked; counts a card cannot
// give and an unknown card are refused.
func testCardPINStatus(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	var c1, c2, c3 *lanyard.Card
	ws := NewWorkstation("pc-pin", "hashpin0123456", alice.ID)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		c1, c2, c3 = NewCard("8201", alice.ID), NewCard("8202", alice.ID), NewCard("8203", alice.ID)
		for _, c := range []*lanyard.Card{c1, c2, c3} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return tx.CreateWorkstation(ws)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		if _, err := tx.CardPINStatus(c1.ID); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("no status yet: %v, want not found", err)
		}
		return nil
	})
	blocked := &lanyard.CardPINStatus{CardID: c1.ID, PINState: lanyard.PINState{TriesLeft: 0, TriesTotal: 3, PUKTriesLeft: 3}, Blocked: true, ReportedAt: t0, WorkstationID: ws.ID}
	unknown := &lanyard.CardPINStatus{CardID: c2.ID, PINState: lanyard.PINState{TriesLeft: -1, PUKTriesLeft: -1}, ReportedAt: t0.Add(1)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.PutCardPINStatus(blocked); err != nil {
			return err
		}
		return tx.PutCardPINStatus(unknown)
	})
	blockedList := func() []int64 {
		var ids []int64
		MustView(t, s, func(tx lanyard.Tx) error {
			list, err := tx.ListCards(lanyard.CardFilter{PINBlocked: true})
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			return err
		})
		return ids
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.CardPINStatus{blocked, unknown} {
			got, err := tx.CardPINStatus(want.CardID)
			if err != nil {
				return err
			}
			if *got != *want {
				t.Errorf("read back %+v, want %+v", got, want)
			}
		}
		return nil
	})
	if got := blockedList(); !slices.Equal(got, []int64{c1.ID}) {
		t.Errorf("PIN blocked cards %v, want [%d]", got, c1.ID)
	}

	// The PIN reset: the same row, replaced.
	reset := &lanyard.CardPINStatus{CardID: c1.ID, PINState: lanyard.PINState{TriesLeft: 3, TriesTotal: 3, PUKTriesLeft: 3}, ReportedAt: t0.Add(2)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutCardPINStatus(reset) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CardPINStatus(c1.ID)
		if err == nil && *got != *reset {
			t.Errorf("after the reset %+v, want %+v", got, reset)
		}
		return err
	})
	if got := blockedList(); len(got) != 0 {
		t.Errorf("PIN blocked cards after the reset: %v", got)
	}

	for name, bad := range map[string]*lanyard.CardPINStatus{
		"unknown card":        {CardID: 999999, PINState: lanyard.PINState{TriesLeft: 1, PUKTriesLeft: 1}, ReportedAt: t0},
		"unknown workstation": {CardID: c3.ID, PINState: lanyard.PINState{TriesLeft: 1, PUKTriesLeft: 1}, ReportedAt: t0, WorkstationID: 999999},
		"tries below -1":      {CardID: c3.ID, PINState: lanyard.PINState{TriesLeft: -2, PUKTriesLeft: 1}, ReportedAt: t0},
		"total over a byte":   {CardID: c3.ID, PINState: lanyard.PINState{TriesLeft: 1, TriesTotal: 256, PUKTriesLeft: 1}, ReportedAt: t0},
	} {
		if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.PutCardPINStatus(bad) }); err == nil {
			t.Errorf("%s: recorded", name)
		}
	}
}
