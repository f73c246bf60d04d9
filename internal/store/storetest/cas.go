package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testCAs(t *testing.T, s lanyard.Store) {
	full := NewCA("root-b")
	bare := &lanyard.CARecord{Name: "a-external", Kind: "stepca", CreatedAt: t0} // nil chain, no CRL
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateCA(full); err != nil {
			return err
		}
		return tx.CreateCA(bare)
	})
	if bare.ChainDER == nil || len(bare.ChainDER) != 0 {
		t.Errorf("CreateCA with nil chain: struct has ChainDER %s, want empty", show(bare.ChainDER))
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CAByName("root-b")
		if err != nil {
			return err
		}
		equal(t, "CAByName", got, full)
		all, err := tx.ListCAs()
		if err != nil {
			return err
		}
		equal(t, "ListCAs", all, []*lanyard.CARecord{bare, full})
		_, err = tx.CAByName("nope")
		wantCode(t, "CAByName missing", err, lanyard.ENotFound)
		wantMessage(t, "CAByName missing", err, `CA "nope" not found`)
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCA(NewCA("root-b")) })
	wantCode(t, "CreateCA duplicate", err, lanyard.EConflict)
	wantMessage(t, "CreateCA duplicate", err, `CA "root-b" already exists`)

	t.Run("crl", func(t *testing.T) {
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateCACRL("root-b", 2, []byte("CRL 2"), at(2*time.Hour)) })
		want := *full
		want.CRLNumber, want.CRLDER, want.CRLUpdated = 2, []byte("CRL 2"), at(2*time.Hour).Truncate(time.Microsecond).UTC()
		check := func(what string) {
			t.Helper()
			MustView(t, s, func(tx lanyard.Tx) error {
				got, err := tx.CAByName("root-b")
				if err != nil {
					return err
				}
				equal(t, what, got, &want)
				return nil
			})
		}
		check("CA after UpdateCACRL")

		// RFC 5280 5.2.3: CRL numbers increase. A replica that lost the
		// race to number 2 must not overwrite the winner's CRL.
		for _, n := range []int64{2, 1} {
			err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateCACRL("root-b", n, []byte("stale"), at(3*time.Hour)) })
			wantCode(t, "UpdateCACRL with a number that does not increase", err, lanyard.EConflict)
		}
		check("CA after refused UpdateCACRL")

		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateCACRL("nope", 5, nil, t0) })
		wantCode(t, "UpdateCACRL missing", err, lanyard.ENotFound)
	})
}
