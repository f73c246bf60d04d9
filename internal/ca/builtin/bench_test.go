package builtin_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The two benchmarks sign the same kind of certificate (the logon template,
// a P-256 subject key) with the same issuing key, so their ratio is the
// price of Sign's own work (profile, serial, parse-back) over the raw
// signing limit of crypto/x509 on this machine.

var benchCAAlgs = []string{"ecp256", "rsa2048"}

func benchCA(b *testing.B, alg string) *builtin.CA {
	b.Helper()
	return mustNew(b, config(catest.NewStore(), catest.NewSealer(b), time.Now, map[string]string{"key_algorithm": alg}))
}

func BenchmarkRawCreateCertificate(b *testing.B) {
	for _, alg := range benchCAAlgs {
		b.Run("ca="+alg, func(b *testing.B) {
			c := benchCA(b, alg)
			issuing, _ := mustChain(b, c)
			key := c.IssuingKeyForTest()
			pub := leafKey(b, lanyard.ECP256).Public()
			nb, na, err := ca.ValidityWindow(time.Now(), 365, issuing.NotAfter)
			if err != nil {
				b.Fatal(err)
			}
			tmpl, err := ca.BuildCertificate(&ca.CertSpec{
				Template: logonTemplate(), User: alice(), PublicKey: pub,
				Serial: new(big.Int).Lsh(big.NewInt(1), 126), NotBefore: nb, NotAfter: na,
				URLs: ca.CAURLs(baseURL, "builtin"),
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := x509.CreateCertificate(rand.Reader, tmpl, issuing, pub, key); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkSign(b *testing.B) {
	for _, alg := range benchCAAlgs {
		b.Run("ca="+alg, func(b *testing.B) {
			c := benchCA(b, alg)
			req := &ca.SignRequest{Template: logonTemplate(), User: alice(), PublicKey: leafKey(b, lanyard.ECP256).Public()}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Sign(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
