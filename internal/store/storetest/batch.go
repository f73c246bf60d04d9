package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testBatches checks that the multi-row writes of the group commit give the
// same result as their one-row counterparts, across the engines' chunking,
// and that one bad row fails the whole batch without leaving any.
func testBatches(t *testing.T, s lanyard.Store) {
	u := MustCreateUser(t, s, "batcher")
	const n = 150 // more than one multi-row INSERT
	certs := make([]*lanyard.Certificate, n)
	events := make([]*lanyard.AuditEvent, n)
	for i := range certs {
		certs[i] = NewCertificate("builtin", fmt.Sprintf("b%04x", i), u.ID)
		events[i] = NewEvent("system", "cert.issue", "certificate", certs[i].Serial, time.Duration(i)*time.Second)
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.AppendAudit(NewEvent("system", "setup", "x", "y", 0)); err != nil {
			return err
		}
		if err := tx.CreateCertificates(certs); err != nil {
			return err
		}
		return tx.AppendAudits(events)
	})
	ids := map[int64]bool{}
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, c := range certs {
			if c.ID == 0 || ids[c.ID] {
				t.Fatalf("certificate %s got ID %d (zero or duplicate)", c.Serial, c.ID)
			}
			ids[c.ID] = true
			got, err := tx.CertificateBySerial(c.CA, c.Serial)
			if err != nil {
				return err
			}
			equal(t, "batched certificate "+c.Serial, got, c)
		}
		return nil
	})
	chain := CheckAuditChain(t, s)
	for i, e := range events {
		if e.Seq == 0 || chain[e.Seq-1].ObjectID != certs[i].Serial {
			t.Fatalf("event %d: seq %d does not hold certificate %s", i, e.Seq, certs[i].Serial)
		}
		equal(t, "batched event", chain[e.Seq-1], e)
	}
	if chain[len(chain)-1].Seq != chain[0].Seq+n {
		t.Fatalf("chain of %d events after a batch of %d", len(chain), n)
	}

	// A clash anywhere in a batch fails it as a whole.
	clash := []*lanyard.Certificate{NewCertificate("builtin", "fresh1", u.ID), NewCertificate("builtin", certs[7].Serial, u.ID)}
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCertificates(clash) })
	wantCode(t, "CreateCertificates with a duplicate serial", err, lanyard.EConflict)
	missing := []*lanyard.Certificate{NewCertificate("builtin", "fresh2", 999_999)}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCertificates(missing) })
	wantCode(t, "CreateCertificates for a missing user", err, lanyard.EInvalid)
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.CertificateBySerial("builtin", "fresh1")
		wantCode(t, "certificate of a failed batch", err, lanyard.ENotFound)
		return nil
	})
	noTime := []*lanyard.AuditEvent{{Action: "x"}}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.AppendAudits(noTime) })
	wantCode(t, "AppendAudits without time", err, lanyard.EInvalid)
}
