package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// NewWorkstation returns a pending workstation waiting for pairing code
// hash codeHash, owned by ownerID (0: nobody).
func NewWorkstation(name, codeHash string, ownerID int64) *lanyard.Workstation {
	return &lanyard.Workstation{
		Name: name, OwnerID: ownerID, Status: lanyard.WorkstationPending,
		PublicKey: []byte("spki " + name), KeySHA256: "ab" + codeHash[:10], PairingCode: codeHash, TPM: true, AgentVersion: "dev",
		CreatedAt: at(time.Minute + 123456789*time.Nanosecond), PairingExpiresAt: at(16 * time.Minute),
	}
}

func testWorkstations(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	w1 := NewWorkstation("pc-1", "1111111111111111", alice.ID)
	w2 := NewWorkstation("pc-2", "2222222222222222", 0) // nobody's: owner NULL
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateWorkstation(w1); err != nil {
			return err
		}
		return tx.CreateWorkstation(w2)
	})
	if w1.ID == 0 || w2.ID == 0 || w1.ID == w2.ID {
		t.Fatalf("ids %d, %d", w1.ID, w2.ID)
	}
	wantTime(t, "CreatedAt", w1.CreatedAt, at(time.Minute+123456789*time.Nanosecond))
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.WorkstationByID(w1.ID)
		if err != nil {
			return err
		}
		equal(t, "WorkstationByID", got, w1)
		got, err = tx.WorkstationByPairingCode(w2.PairingCode)
		if err != nil {
			return err
		}
		equal(t, "WorkstationByPairingCode", got, w2)
		_, err = tx.WorkstationByID(999_999)
		wantCode(t, "WorkstationByID missing", err, lanyard.ENotFound)
		_, err = tx.WorkstationByPairingCode("nope")
		wantCode(t, "WorkstationByPairingCode missing", err, lanyard.ENotFound)
		_, err = tx.WorkstationByPairingCode("")
		wantCode(t, "WorkstationByPairingCode empty", err, lanyard.ENotFound)
		_, err = tx.WorkstationByCertSerial("")
		wantCode(t, "WorkstationByCertSerial empty", err, lanyard.ENotFound)
		return nil
	})

	// Pairing: the code is cleared, the serial set, every field written.
	paired := *w1
	paired.Status, paired.CertSerial, paired.PairingCode, paired.PairingExpiresAt = lanyard.WorkstationActive, "1a2b3c", "", time.Time{}
	paired.Name, paired.OwnerID, paired.TPM, paired.AgentVersion = "pc-1.example", 0, false, "1.2.3"
	paired.PairedAt, paired.LastSeenAt = at(2*time.Minute), at(3*time.Minute)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateWorkstation(&paired) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.WorkstationByCertSerial("1a2b3c")
		if err != nil {
			return err
		}
		equal(t, "WorkstationByCertSerial", got, &paired)
		_, err = tx.WorkstationByPairingCode(w1.PairingCode)
		wantCode(t, "WorkstationByPairingCode after pairing", err, lanyard.ENotFound)
		return nil
	})

	// Touching writes the time seen and nothing else.
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.TouchWorkstation(paired.ID, at(time.Hour)) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.WorkstationByID(paired.ID)
		if err != nil {
			return err
		}
		want := paired
		want.LastSeenAt = at(time.Hour).Truncate(time.Microsecond).UTC()
		equal(t, "touched workstation", got, &want)
		return nil
	})
	err0 := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.TouchWorkstation(999_999, at(0)) })
	wantCode(t, "TouchWorkstation missing", err0, lanyard.ENotFound)

	// A second pending workstation may not take a code or serial in use;
	// many may have none ('' is not unique).
	dupCode := NewWorkstation("pc-3", w2.PairingCode, 0)
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateWorkstation(dupCode) })
	wantCode(t, "CreateWorkstation with a code in use", err, lanyard.EConflict)
	w3 := NewWorkstation("pc-3", "3333333333333333", alice.ID)
	w3.PairingCode, w3.Status = "", lanyard.WorkstationRevoked
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateWorkstation(w3) })
	dupSerial := *w3
	dupSerial.CertSerial = "1a2b3c"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateWorkstation(&dupSerial) })
	wantCode(t, "UpdateWorkstation with a serial in use", err, lanyard.EConflict)
	missing := *w3
	missing.ID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateWorkstation(&missing) })
	wantCode(t, "UpdateWorkstation missing", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateWorkstation(NewWorkstation("pc-4", "4444444444444444", 999_999))
	})
	wantCode(t, "CreateWorkstation for a missing owner", err, lanyard.EInvalid)

	id := func(w *lanyard.Workstation) int64 { return w.ID }
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, tc := range []struct {
			what string
			f    lanyard.WorkstationFilter
			want []int64
		}{
			{"all", lanyard.WorkstationFilter{}, []int64{w1.ID, w2.ID, w3.ID}},
			{"alice's", lanyard.WorkstationFilter{OwnerID: alice.ID}, []int64{w3.ID}},
			{"pending", lanyard.WorkstationFilter{Status: lanyard.WorkstationPending}, []int64{w2.ID}},
			{"alice's revoked", lanyard.WorkstationFilter{OwnerID: alice.ID, Status: lanyard.WorkstationRevoked}, []int64{w3.ID}},
			{"page", lanyard.WorkstationFilter{Limit: 1, Offset: 1}, []int64{w2.ID}},
			{"nobody's", lanyard.WorkstationFilter{OwnerID: 999_999}, nil},
		} {
			got, err := tx.ListWorkstations(tc.f)
			if err != nil {
				return err
			}
			wantIDs(t, "ListWorkstations "+tc.what, got, id, tc.want...)
		}
		return nil
	})
}

// testExpiredPairings: only pending workstations whose code expired go.
func testExpiredPairings(t *testing.T, s lanyard.Store) {
	old := NewWorkstation("old", "3333333333333333", 0)
	old.Status, old.PairingExpiresAt = lanyard.WorkstationPending, at(time.Hour)
	fresh := NewWorkstation("fresh", "4444444444444444", 0)
	fresh.Status, fresh.PairingExpiresAt = lanyard.WorkstationPending, at(3*time.Hour)
	active := NewWorkstation("active", "5555555555555555", 0)
	active.Status, active.PairingExpiresAt, active.PairingCode, active.CertSerial = lanyard.WorkstationActive, at(time.Hour), "", "abcd"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, w := range []*lanyard.Workstation{old, fresh, active} {
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
		}
		return nil
	})
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.DeleteExpiredPairings(at(2 * time.Hour)); return })
	if n != 1 {
		t.Fatalf("DeleteExpiredPairings deleted %d, want 1", n)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.WorkstationByID(old.ID)
		wantCode(t, "expired pairing", err, lanyard.ENotFound)
		for _, w := range []*lanyard.Workstation{fresh, active} {
			if _, err := tx.WorkstationByID(w.ID); err != nil {
				t.Errorf("workstation %s deleted: %v", w.Name, err)
			}
		}
		return nil
	})
}
