package catest_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The fake must keep the parts of the store contract the CA relies on, or
// the CA tests prove nothing.
func TestStoreContract(t *testing.T) {
	st := catest.NewStore()
	ctx := t.Context()
	rec := &lanyard.CARecord{Name: "x", Kind: "builtin", CertDER: []byte{1}, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 1999, time.FixedZone("X", 3600))}

	// A failed Update leaves nothing behind.
	boom := errors.New("boom")
	err := st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCA(rec); err != nil {
			return err
		}
		if err := tx.PutSetting("k", []byte("v")); err != nil {
			return err
		}
		if err := tx.AppendAudit(&lanyard.AuditEvent{Actor: "system", Action: "ca.create"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	err = st.View(ctx, func(tx lanyard.Tx) error {
		_, err1 := tx.CAByName("x")
		_, err2 := tx.Setting("k")
		evs, err3 := tx.ListAudit(lanyard.AuditFilter{})
		if !lanyard.IsCode(err1, lanyard.ENotFound) || !lanyard.IsCode(err2, lanyard.ENotFound) || err3 != nil || len(evs) != 0 {
			t.Errorf("after rollback: %v %v %v %d events", err1, err2, err3, len(evs))
		}
		// Views cannot write.
		if err := tx.PutSetting("k", nil); !lanyard.IsCode(err, lanyard.EInternal) {
			t.Errorf("PutSetting in View = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Committed writes are visible, copied, times stored as UTC µs; a
	// second CreateCA conflicts; the audit chain links.
	ev1 := &lanyard.AuditEvent{Actor: "system", Action: "ca.create", Time: time.Now()}
	err = st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCA(rec); err != nil {
			return err
		}
		return tx.AppendAudit(ev1)
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.CertDER[0] = 9 // must not reach the stored copy
	ev2 := &lanyard.AuditEvent{Actor: "system", Action: "other"}
	err = st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCA(rec); !lanyard.IsCode(err, lanyard.EConflict) {
			t.Errorf("second CreateCA = %v, want conflict", err)
		}
		return tx.AppendAudit(ev2)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx lanyard.Tx) error {
		got, err := tx.CAByName("x")
		if err != nil {
			return err
		}
		if got.CertDER[0] != 1 || !got.CreatedAt.Equal(rec.CreatedAt.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("stored record %+v", got)
		}
		evs, err := tx.ListAudit(lanyard.AuditFilter{Action: "other"})
		if err != nil || len(evs) != 1 || evs[0].Seq != 2 || !bytes.Equal(evs[0].PrevHash, ev1.Hash) || !bytes.Equal(evs[0].Hash, evs[0].CanonicalHash(ev1.Hash)) {
			t.Errorf("audit chain: %v %+v", err, evs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Methods outside the fake say so.
	_ = st.View(ctx, func(tx lanyard.Tx) error {
		if _, err := tx.UserByLogin("alice"); !lanyard.IsCode(err, lanyard.EInternal) {
			t.Errorf("UserByLogin = %v", err)
		}
		return nil
	})
}
