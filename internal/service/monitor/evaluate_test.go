package monitor_test

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/monitor"
)

// TestEvaluatePrecedence: managed expired, managed expiring, tracked
// expired, tracked expiring, none — and the next change by time alone.
func TestEvaluatePrecedence(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	warn := 30 * day
	cert := func(src lanyard.CertSource, d time.Duration) lanyard.CardCert {
		return lanyard.CardCert{Source: src, NotAfter: now.Add(d)}
	}
	m, tr := lanyard.SourceManaged, lanyard.SourceTracked
	for _, tc := range []struct {
		name          string
		certs         []lanyard.CardCert
		want          lanyard.ContentStatus
		expires, next time.Duration // from now; -1: zero
	}{
		{"no certificates", nil, lanyard.ContentNone, -1, -1},
		{"far from expiry", []lanyard.CardCert{cert(m, 100*day)}, lanyard.ContentNone, -1, 70 * day},
		{"tracked expiring", []lanyard.CardCert{cert(tr, 10*day), cert(m, 100*day)}, lanyard.ContentTrackedExpiring, 10 * day, 10 * day},
		{"tracked expired before tracked expiring", []lanyard.CardCert{cert(tr, 10*day), cert(tr, -day)}, lanyard.ContentTrackedExpired, -day, 10 * day},
		{"managed expiring before tracked expired", []lanyard.CardCert{cert(tr, -day), cert(m, 20*day)}, lanyard.ContentManagedExpiring, 20 * day, 20 * day},
		{"managed expired first", []lanyard.CardCert{cert(m, 20*day), cert(m, -2*day), cert(tr, -day)}, lanyard.ContentManagedExpired, -2 * day, 20 * day},
		{"earliest of the winning status", []lanyard.CardCert{cert(m, 20*day), cert(m, 5*day)}, lanyard.ContentManagedExpiring, 5 * day, 5 * day},
		{"warning starts exactly now", []lanyard.CardCert{cert(m, warn)}, lanyard.ContentManagedExpiring, warn, warn},
	} {
		st, expires, next := monitor.Evaluate(tc.certs, warn, now)
		at := func(d time.Duration) time.Time {
			if d == -1 {
				return time.Time{}
			}
			return now.Add(d)
		}
		if st != tc.want || !expires.Equal(at(tc.expires)) || !next.Equal(at(tc.next)) {
			t.Errorf("%s: got %s, expires %v, next %v; want %s, %v, %v", tc.name, st, expires, next, tc.want, at(tc.expires), at(tc.next))
		}
	}
}
