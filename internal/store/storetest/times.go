package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testTimes checks the time encoding at its edges: before 1970 (negative
// Unix time, where truncation must round down, not toward zero), far in
// the future, sub-microsecond parts, other zones, and the zero time.
func testTimes(t *testing.T, s lanyard.Store) {
	tests := []struct {
		name string
		in   time.Time
	}{
		{"before 1970 with nanoseconds", time.Date(1969, time.December, 31, 23, 59, 59, 999_999_500, time.UTC)},
		{"year 9999", time.Date(9999, time.December, 31, 23, 59, 59, 999_999_999, time.UTC)},
		{"other zone", time.Date(2030, time.June, 1, 12, 0, 0, 1_999, time.FixedZone("UTC-7", -7*3600))},
		{"whole microsecond", time.Date(2025, time.January, 2, 3, 4, 5, 6_000, time.UTC)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCertificate("times", string(rune('a'+i)), 0)
			c.NotBefore, c.NotAfter, c.RevokedAt = tc.in, tc.in, time.Time{}
			MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCertificate(c) })
			wantTime(t, "struct NotBefore after create", c.NotBefore, tc.in)
			MustView(t, s, func(tx lanyard.Tx) error {
				got, err := tx.CertificateByID(c.ID)
				if err != nil {
					return err
				}
				wantTime(t, "NotBefore", got.NotBefore, tc.in)
				wantTime(t, "NotAfter", got.NotAfter, tc.in)
				if !got.RevokedAt.IsZero() {
					t.Errorf("zero RevokedAt read back as %s", show(got.RevokedAt))
				}
				return nil
			})
		})
	}
}
