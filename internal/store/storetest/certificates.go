package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func certID(c *lanyard.Certificate) int64 { return c.ID }

func testCertificates(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	c1 := NewCertificate("ca1", "1f", alice.ID)
	// No user (stored as NULL, read as 0); empty DER reads back nil.
	tracked := NewCertificate("ca1", "2a", 0)
	tracked.Source, tracked.CardID, tracked.RequestID, tracked.DER = lanyard.SourceTracked, 0, 0, []byte{}
	// Serials are unique per CA only.
	sameSerial := NewCertificate("ca2", "1f", alice.ID)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.Certificate{c1, tracked, sameSerial} {
			if err := tx.CreateCertificate(c); err != nil {
				return err
			}
		}
		return nil
	})
	if c1.ID == 0 || tracked.ID == 0 || c1.ID == tracked.ID {
		t.Fatalf("CreateCertificate ids %d, %d", c1.ID, tracked.ID)
	}
	if tracked.DER != nil {
		t.Errorf("CreateCertificate left empty DER as %s in the struct, want nil", show(tracked.DER))
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.Certificate{c1, tracked, sameSerial} {
			got, err := tx.CertificateBySerial(want.CA, want.Serial)
			if err != nil {
				return err
			}
			equal(t, "CertificateBySerial "+want.CA+"/"+want.Serial, got, want)
			got, err = tx.CertificateByID(want.ID)
			if err != nil {
				return err
			}
			equal(t, "CertificateByID", got, want)
		}
		_, err := tx.CertificateBySerial("ca1", "ff")
		wantCode(t, "CertificateBySerial missing", err, lanyard.ENotFound)
		_, err = tx.CertificateBySerial("ca3", "1f")
		wantCode(t, "CertificateBySerial other CA", err, lanyard.ENotFound)
		_, err = tx.CertificateByID(999_999)
		wantCode(t, "CertificateByID missing", err, lanyard.ENotFound)
		return nil
	})

	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCertificate(NewCertificate("ca1", "1f", 0)) })
	wantCode(t, "CreateCertificate duplicate (CA, serial)", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateCertificate(NewCertificate("ca1", "99", 999_999)) })
	wantCode(t, "CreateCertificate for a missing user", err, lanyard.EInvalid)

	t.Run("update", func(t *testing.T) {
		upd := *c1
		upd.Status, upd.CardID, upd.Slot = lanyard.CertRevoked, 8, "9c"
		upd.RevokedAt, upd.Reason, upd.ReasonName = at(time.Hour), lanyard.ReasonKeyCompromise, "key_compromise"
		upd.UpdatedAt = at(time.Hour)
		// Fields fixed at issue: UpdateCertificate must not write them.
		upd.Subject, upd.DER, upd.NotAfter, upd.Serial, upd.CreatedAt = "CN=Mallory", []byte("other"), at(time.Hour), "ee", at(-time.Hour)
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateCertificate(&upd) })
		want := *c1
		want.Status, want.CardID, want.Slot, want.Reason, want.ReasonName = lanyard.CertRevoked, 8, "9c", lanyard.ReasonKeyCompromise, "key_compromise"
		want.RevokedAt, want.UpdatedAt = at(time.Hour).Truncate(time.Microsecond).UTC(), at(time.Hour).Truncate(time.Microsecond).UTC()
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := tx.CertificateByID(c1.ID)
			if err != nil {
				return err
			}
			equal(t, "updated certificate", got, &want)
			return nil
		})

		// Detach from the card: CardID 0 is stored as NULL.
		upd.CardID = 0
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateCertificate(&upd) })
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := tx.CertificateByID(c1.ID)
			if err == nil && got.CardID != 0 {
				t.Errorf("CardID after detaching = %d, want 0", got.CardID)
			}
			return err
		})

		missing := *c1
		missing.ID = 999_999
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateCertificate(&missing) })
		wantCode(t, "UpdateCertificate missing", err, lanyard.ENotFound)
	})
}

func testCertificateFilters(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	type spec struct {
		ca     string
		user   int64
		status lanyard.CertStatus
	}
	specs := []spec{
		{"ca1", alice.ID, lanyard.CertValid},   // 0
		{"ca1", alice.ID, lanyard.CertRevoked}, // 1
		{"ca1", bob.ID, lanyard.CertWritten},   // 2
		{"ca2", bob.ID, lanyard.CertRevoked},   // 3
		{"ca1", 0, lanyard.CertRevoked},        // 4
		{"ca2", alice.ID, lanyard.CertValid},   // 5
	}
	ids := make([]int64, len(specs))
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, sp := range specs {
			c := NewCertificate(sp.ca, string(rune('a'+i)), sp.user)
			c.Status = sp.status
			if err := tx.CreateCertificate(c); err != nil {
				return err
			}
			ids[i] = c.ID
		}
		return nil
	})
	pick := func(idx ...int) []int64 {
		var out []int64
		for _, i := range idx {
			out = append(out, ids[i])
		}
		return out
	}
	tests := []struct {
		name string
		f    lanyard.CertFilter
		want []int64
	}{
		{"all, oldest first", lanyard.CertFilter{}, pick(0, 1, 2, 3, 4, 5)},
		{"by CA", lanyard.CertFilter{CA: "ca2"}, pick(3, 5)},
		{"by user", lanyard.CertFilter{UserID: alice.ID}, pick(0, 1, 5)},
		{"by status", lanyard.CertFilter{Status: lanyard.CertRevoked}, pick(1, 3, 4)},
		{"CA and status", lanyard.CertFilter{CA: "ca1", Status: lanyard.CertRevoked}, pick(1, 4)},
		{"CA, user and status", lanyard.CertFilter{CA: "ca1", UserID: alice.ID, Status: lanyard.CertValid}, pick(0)},
		{"no match", lanyard.CertFilter{CA: "ca3"}, nil},
		{"limit", lanyard.CertFilter{Limit: 2}, pick(0, 1)},
		{"limit and offset", lanyard.CertFilter{Limit: 2, Offset: 2}, pick(2, 3)},
		{"offset without limit", lanyard.CertFilter{Offset: 4}, pick(4, 5)},
		{"filter with limit", lanyard.CertFilter{Status: lanyard.CertRevoked, Limit: 1, Offset: 1}, pick(3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			MustView(t, s, func(tx lanyard.Tx) error {
				got, err := tx.ListCertificates(tc.f)
				if err != nil {
					return err
				}
				wantIDs(t, "ListCertificates", got, certID, tc.want...)
				return nil
			})
		})
	}
	// The CRL's entries when nothing is on hold.
	revokedOnly := func(t *testing.T) {
		MustView(t, s, func(tx lanyard.Tx) error {
			for ca, want := range map[string][]string{"ca1": {"b", "e"}, "ca2": {"d"}, "ca3": nil} {
				got, err := tx.CRLEntries(ca, t0)
				if err != nil {
					return err
				}
				wantSerials(t, "CRLEntries("+ca+")", got, want...)
			}
			return nil
		})
	}
	t.Run("revoked for the CRL", revokedOnly)
	// A certificate on hold (its card disabled) is on the CRL while it is
	// held, and leaves it when released; its status stays as it was.
	t.Run("held for the CRL", func(t *testing.T) {
		hold := func(i int, at time.Time) {
			MustUpdate(t, s, func(tx lanyard.Tx) error {
				c, err := tx.CertificateByID(ids[i])
				if err != nil {
					return err
				}
				c.HeldAt = at
				return tx.UpdateCertificate(c)
			})
		}
		hold(2, t0.Add(time.Hour))
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := tx.CRLEntries("ca1", t0)
			if err != nil {
				return err
			}
			wantSerials(t, "CRLEntries(ca1) with one held", got, "b", "c", "e")
			c, err := tx.CertificateByID(ids[2])
			if err != nil {
				return err
			}
			if !c.HeldAt.Equal(t0.Add(time.Hour).Truncate(time.Microsecond)) || c.Status != lanyard.CertWritten || !c.OnHold() {
				t.Errorf("held certificate read back: held %v status %s", c.HeldAt, c.Status)
			}
			return nil
		})
		hold(2, time.Time{})
		revokedOnly(t)
	})
}
