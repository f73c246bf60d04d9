package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// BenchmarkIssue measures the store's share of issuing certificates: per
// certificate, the template look-up, the certificate insert and its audit
// event, batched per transaction as the issuing service does. It reports
// certificates per second.
func BenchmarkIssue(b *testing.B, s lanyard.Store, batch int) {
	u := MustCreateUser(b, s, "bench")
	MustCreateTemplate(b, s, "logon")
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		MustUpdate(b, s, func(tx lanyard.Tx) error {
			for j := i; j < min(i+batch, b.N); j++ {
				if _, err := tx.TemplateByName("logon"); err != nil {
					return err
				}
				c := NewCertificate("builtin", fmt.Sprintf("%x", j+1), u.ID)
				if err := tx.CreateCertificate(c); err != nil {
					return err
				}
				if err := tx.AppendAudit(NewEvent("bench", "cert.issue", "certificate", c.Serial, time.Duration(j))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

// BenchmarkIssueBatched is BenchmarkIssue the way the issuance writer
// does it: each transaction inserts batch certificates and their audit
// events with the multi-row methods.
func BenchmarkIssueBatched(b *testing.B, s lanyard.Store, batch int) {
	u := MustCreateUser(b, s, "bench")
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		n := min(batch, b.N-i)
		certs := make([]*lanyard.Certificate, n)
		evs := make([]*lanyard.AuditEvent, n)
		for j := range certs {
			certs[j] = NewCertificate("builtin", fmt.Sprintf("%x", i+j+1), u.ID)
			evs[j] = NewEvent("bench", "cert.issue", "certificate", certs[j].Serial, time.Duration(i+j))
		}
		MustUpdate(b, s, func(tx lanyard.Tx) error {
			if err := tx.CreateCertificates(certs); err != nil {
				return err
			}
			return tx.AppendAudits(evs)
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}
