package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testAirCards(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	card, other := NewCard("7001", alice.ID), NewCard("7002", alice.ID)
	w1, w2 := NewWorkstation("pc1", "c1c1c1c1c1c1c1c1", alice.ID), NewWorkstation("pc2", "c2c2c2c2c2c2c2c2", alice.ID)
	svc := NewWorkstation("aircard-service", "c3c3c3c3c3c3c3c3", 0)
	svc.Role = lanyard.RoleAirCardService
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.Card{card, other} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		for _, w := range []*lanyard.Workstation{w1, w2, svc} {
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.WorkstationByID(svc.ID)
		if err != nil {
			return err
		}
		if got.Role != lanyard.RoleAirCardService {
			t.Errorf("role %q, want aircard_service", got.Role)
		}
		got, err = tx.WorkstationByID(w1.ID)
		if err == nil && got.Role != lanyard.RoleWorkstation {
			t.Errorf("default role %q, want workstation", got.Role)
		}
		return err
	})

	c1 := &lanyard.AirCardComputer{CardID: card.ID, WorkstationID: w1.ID, AddedBy: "alice", AddedAt: at(time.Minute)}
	c2 := &lanyard.AirCardComputer{CardID: card.ID, WorkstationID: w2.ID, AddedBy: "code", AddedAt: at(2 * time.Minute)}
	c3 := &lanyard.AirCardComputer{CardID: other.ID, WorkstationID: w1.ID, AddedBy: "alice", AddedAt: at(3 * time.Minute)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.AirCardComputer{c1, c2, c3} {
			if err := tx.AddAirCardComputer(c); err != nil {
				return err
			}
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: card.ID, WorkstationID: w1.ID, AddedAt: at(0)})
	})
	wantCode(t, "AddAirCardComputer twice", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: card.ID, WorkstationID: 999_999, AddedAt: at(0)})
	})
	wantCode(t, "AddAirCardComputer of a missing workstation", err, lanyard.EInvalid)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.AirCardComputers(card.ID)
		if err != nil {
			return err
		}
		equal(t, "AirCardComputers", got, []*lanyard.AirCardComputer{c1, c2})
		ids, err := tx.AirCardsAllowedOn(w1.ID)
		if err != nil {
			return err
		}
		if !slices.Equal(ids, []int64{card.ID, other.ID}) {
			t.Errorf("AirCardsAllowedOn(pc1) = %v", ids)
		}
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.RemoveAirCardComputer(card.ID, w2.ID) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.RemoveAirCardComputer(card.ID, w2.ID) })
	wantCode(t, "RemoveAirCardComputer twice", err, lanyard.ENotFound)
	MustView(t, s, func(tx lanyard.Tx) error {
		ids, err := tx.AirCardsAllowedOn(w2.ID)
		if err == nil && len(ids) != 0 {
			t.Errorf("pc2 still allowed: %v", ids)
		}
		return err
	})

	code := &lanyard.AirCardCode{CardID: card.ID, CodeHash: "hash-1", CreatedBy: "operator", CreatedAt: at(time.Hour), ExpiresAt: at(2 * time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateAirCardCode(code) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateAirCardCode(&lanyard.AirCardCode{CardID: card.ID, CodeHash: "hash-1", CreatedAt: at(0), ExpiresAt: at(0)})
	})
	wantCode(t, "CreateAirCardCode duplicate hash", err, lanyard.EConflict)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.AirCardCodeByHash("hash-1")
		if err != nil {
			return err
		}
		equal(t, "AirCardCodeByHash", got, code)
		_, err = tx.AirCardCodeByHash("nope")
		wantCode(t, "AirCardCodeByHash missing", err, lanyard.ENotFound)
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UseAirCardCode(code.ID, w2.ID, at(90*time.Minute)) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UseAirCardCode(code.ID, w1.ID, at(91*time.Minute)) })
	wantCode(t, "UseAirCardCode twice", err, lanyard.EConflict)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.AirCardCodeByHash("hash-1")
		if err != nil {
			return err
		}
		if got.UsedBy != w2.ID || !got.UsedAt.Equal(at(90*time.Minute).Truncate(time.Microsecond)) {
			t.Errorf("used code: by %d at %v", got.UsedBy, got.UsedAt)
		}
		return nil
	})
}
