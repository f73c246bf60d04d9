//go:build integration

package pki_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// TestConcurrentRevocationsAcrossReplicas: two replicas (services with a
// store pool each on one PostgreSQL schema, one master key) revoke
// different certificates at the same moment, round after round. Neither
// revocation fails (the CRL's compare-and-set never reaches the user),
// and the CRL served afterwards — parsed and its signature checked —
// lists both serials, and every serial revoked before.
func TestConcurrentRevocationsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	replica := func() *servicetest.Stack {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		return servicetest.New(t, servicetest.Options{Store: st, Key: key})
	}
	a, b := replica(), replica()
	caName := a.CA.Name()
	const rounds = 25
	now := time.Now().UTC().Truncate(time.Microsecond)
	serial := func(i int) string { return lanyard.SerialHex(big.NewInt(int64(0x5e0000 + i))) }
	err := a.Store.Update(ctx, func(tx lanyard.Tx) error {
		for i := range 2 * rounds {
			c := &lanyard.Certificate{Serial: serial(i), CA: caName, UserID: a.Admin.User.ID, Subject: "CN=" + serial(i),
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour), Status: lanyard.CertValid, Source: lanyard.SourceManaged,
				KeySHA256: serial(i), DER: []byte{0x30}, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateCertificate(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := a.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := func(from *servicetest.Stack) map[string]bool {
		t.Helper()
		der, err := from.Service.PKI.CRL(ctx, caName) // what GET /crl/{ca} serves
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.CheckSignatureFrom(chain[0]); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, e := range l.RevokedCertificateEntries {
			out[lanyard.SerialHex(e.SerialNumber)] = true
		}
		return out
	}
	var number *big.Int
	for round := range rounds {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, r := range []*servicetest.Stack{a, b} {
			s := serial(2*round + i)
			wg.Go(func() {
				<-start
				if _, err := r.Service.PKI.Revoke(ctx, r.Admin, caName, s, lanyard.ReasonKeyCompromise); err != nil {
					t.Errorf("round %d: replica %d revoking %s: %v", round, i, s, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for _, from := range []*servicetest.Stack{a, b} {
			got := listed(from)
			for i := range 2 * (round + 1) {
				if !got[serial(i)] {
					t.Fatalf("round %d: the CRL lacks %s (listed: %v)", round, serial(i), got)
				}
			}
		}
		der, _ := a.Service.PKI.CRL(ctx, caName)
		l, _ := x509.ParseRevocationList(der)
		if number != nil && l.Number.Cmp(number) <= 0 {
			t.Fatalf("round %d: CRL number %v after %v", round, l.Number, number)
		}
		number = l.Number
	}
}
