package storetest

import (
	"context"
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

// IssuedWriter is the optional fast path of the group commit
// (sqlstore.DB.CreateIssued). Its effect must equal an Update with
// CreateCertificates and AppendAudits.
type IssuedWriter interface {
	CreateIssued(ctx context.Context, certs []*lanyard.Certificate, evs []*lanyard.AuditEvent) error
}

// IssuedBatch returns n certificates of userID with serials prefix0000…
// and their issue events.
func IssuedBatch(prefix string, userID int64, n int) ([]*lanyard.Certificate, []*lanyard.AuditEvent) {
	certs := make([]*lanyard.Certificate, n)
	events := make([]*lanyard.AuditEvent, n)
	for i := range certs {
		certs[i] = NewCertificate("builtin", fmt.Sprintf("%s%04x", prefix, i), userID)
		events[i] = NewEvent("system", "cert.issue", "certificate", certs[i].Serial, time.Duration(i)*time.Second)
	}
	return certs, events
}

// CheckIssued fails tb unless certs are stored with distinct IDs and
// events sit on the chain, in order, naming them.
func CheckIssued(tb testing.TB, s lanyard.Store, certs []*lanyard.Certificate, events []*lanyard.AuditEvent) {
	tb.Helper()
	ids := map[int64]bool{}
	MustView(tb, s, func(tx lanyard.Tx) error {
		for _, c := range certs {
			if c.ID == 0 || ids[c.ID] {
				tb.Fatalf("certificate %s got ID %d (zero or duplicate)", c.Serial, c.ID)
			}
			ids[c.ID] = true
			got, err := tx.CertificateBySerial(c.CA, c.Serial)
			if err != nil {
				return err
			}
			equal(tb, "issued certificate "+c.Serial, got, c)
		}
		return nil
	})
	chain := CheckAuditChain(tb, s)
	for i, e := range events {
		if e.Seq == 0 || int(e.Seq) > len(chain) || chain[e.Seq-1].ObjectID != certs[i].Serial {
			tb.Fatalf("event %d: seq %d does not hold certificate %s", i, e.Seq, certs[i].Serial)
		}
		equal(tb, "issued event", chain[e.Seq-1], e)
	}
}

// testCreateIssued checks the group commit's fast path: batches land like
// Update's, a clash fails the whole batch, and the next batch after a
// failure still extends the true chain head.
func testCreateIssued(t *testing.T, s lanyard.Store) {
	w, ok := s.(IssuedWriter)
	if !ok {
		t.Fatalf("the %s store has no CreateIssued: every engine provides the group commit's fast path (sqlstore.DB does)", s.Engine())
	}
	u := MustCreateUser(t, s, "issuer")
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.AppendAudit(NewEvent("system", "setup", "x", "y", 0)) })
	certs, events := IssuedBatch("i", u.ID, 150)
	if err := w.CreateIssued(t.Context(), certs, events); err != nil {
		t.Fatal(err)
	}
	CheckIssued(t, s, certs, events)
	before := len(CheckAuditChain(t, s))

	clash, clashEvents := IssuedBatch("j", u.ID, 3)
	clash[2].Serial = certs[5].Serial
	err := w.CreateIssued(t.Context(), clash, clashEvents)
	wantCode(t, "CreateIssued with a duplicate serial", err, lanyard.EConflict)
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.CertificateBySerial("builtin", clash[0].Serial)
		wantCode(t, "certificate of a failed batch", err, lanyard.ENotFound)
		return nil
	})
	if after := len(CheckAuditChain(t, s)); after != before {
		t.Fatalf("a failed batch changed the chain from %d to %d events", before, after)
	}

	more, moreEvents := IssuedBatch("k", u.ID, 5)
	if err := w.CreateIssued(t.Context(), more, moreEvents); err != nil {
		t.Fatal(err)
	}
	CheckIssued(t, s, more, moreEvents)
	err = w.CreateIssued(t.Context(), nil, []*lanyard.AuditEvent{{Action: "x"}})
	wantCode(t, "CreateIssued event without time", err, lanyard.EInvalid)
}
