package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// wantSerials checks the serials of CRL entries, in order.
func wantSerials(tb testing.TB, what string, got []*lanyard.CRLEntry, want ...string) {
	tb.Helper()
	if got == nil {
		tb.Errorf("%s: nil list, want an empty one", what)
	}
	serials := []string{}
	for _, e := range got {
		serials = append(serials, e.Serial)
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(serials, want) {
		tb.Errorf("%s: serials %v, want %v", what, serials, want)
	}
}

// testCRLEntries: the CRL lists the revoked and held certificates of its
// CA whose validity has not ended at validAt (RFC 5280 5.1.2.6: an expired
// certificate may leave the CRL), NotAfter included (4.1.2.5: the validity
// is inclusive), each with what the CRL and OCSP report of it.
func testCRLEntries(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	validAt := at(48 * time.Hour)
	type spec struct {
		serial   string
		ca       string
		status   lanyard.CertStatus
		notAfter time.Time
		held     bool
	}
	specs := []spec{
		{"a1", "ca1", lanyard.CertRevoked, at(47 * time.Hour), false},             // expired: left out
		{"a2", "ca1", lanyard.CertRevoked, validAt, false},                        // its last instant
		{"a3", "ca1", lanyard.CertRevoked, at(49 * time.Hour), false},             // valid
		{"a4", "ca1", lanyard.CertWritten, at(47 * time.Hour), true},              // held, expired: left out
		{"a5", "ca1", lanyard.CertWritten, at(49 * time.Hour), true},              // held
		{"a6", "ca1", lanyard.CertValid, at(49 * time.Hour), false},               // neither
		{"a7", "ca2", lanyard.CertRevoked, at(49 * time.Hour), false},             // another CA
		{"a8", "ca1", lanyard.CertRevoked, at(49 * time.Hour), true},              // revoked after a hold: revoked
		{"a9", "ca1", lanyard.CertRevoked, validAt.Add(-time.Microsecond), false}, // expired a microsecond before
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, sp := range specs {
			c := NewCertificate(sp.ca, sp.serial, alice.ID)
			c.Status, c.NotAfter = sp.status, sp.notAfter
			if sp.status == lanyard.CertRevoked {
				c.RevokedAt, c.Reason, c.ReasonName = at(time.Duration(i)*time.Minute), lanyard.ReasonKeyCompromise, "key_compromise"
			}
			if sp.held {
				c.HeldAt = at(time.Hour)
			}
			if err := tx.CreateCertificate(c); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CRLEntries("ca1", validAt)
		if err != nil {
			return err
		}
		wantSerials(t, "CRLEntries(ca1) at validAt", got, "a2", "a3", "a5", "a8")
		held := at(time.Hour).UTC().Truncate(time.Microsecond)
		for _, e := range got {
			i := slices.IndexFunc(specs, func(sp spec) bool { return sp.serial == e.Serial })
			revoked := at(time.Duration(i) * time.Minute).UTC().Truncate(time.Microsecond)
			want := lanyard.CRLEntry{Serial: e.Serial, Status: lanyard.CertRevoked, RevokedAt: revoked, Reason: lanyard.ReasonKeyCompromise}
			switch e.Serial {
			case "a5":
				want = lanyard.CRLEntry{Serial: "a5", Status: lanyard.CertWritten, HeldAt: held}
			case "a8":
				want.HeldAt = held
			}
			if *e != want {
				t.Errorf("CRL entry %s: %+v, want %+v", e.Serial, *e, want)
			}
		}
		if e := got[3]; e.OnHold() || !got[2].OnHold() {
			t.Errorf("OnHold: revoked after a hold %v, held %v", e.OnHold(), got[2].OnHold())
		}
		// Before any expired: every revoked and held certificate.
		got, err = tx.CRLEntries("ca1", t0)
		if err != nil {
			return err
		}
		wantSerials(t, "CRLEntries(ca1) at t0", got, "a1", "a2", "a3", "a4", "a5", "a8", "a9")
		got, err = tx.CRLEntries("ca2", validAt)
		if err != nil {
			return err
		}
		wantSerials(t, "CRLEntries(ca2)", got, "a7")
		got, err = tx.CRLEntries("ca1", at(50*time.Hour))
		if err != nil {
			return err
		}
		wantSerials(t, "CRLEntries(ca1) once all expired", got)
		return nil
	})
}
