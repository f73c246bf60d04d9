//go:build integration

package pki_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"math/big"
	"slices"
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

// crlBetween is a store whose next transaction, right after it read a
// CA's record, lets another replica sign a CRL (between that read and
// the audit lock signCRL takes).
type crlBetween struct {
	lanyard.Store
	between func()
}

func (w *crlBetween) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	return w.Store.Update(ctx, func(tx lanyard.Tx) error { return fn(crlBetweenTx{Tx: tx, w: w}) })
}

type crlBetweenTx struct {
	lanyard.Tx
	w *crlBetween
}

func (t crlBetweenTx) CAByName(name string) (*lanyard.CARecord, error) {
	rec, err := t.Tx.CAByName(name)
	if f := t.w.between; f != nil {
		t.w.between = nil
		f()
	}
	return rec, err
}

// TestCRLAuditNumberAcrossReplicas: a replica's CRL refresh that read the
// CA before another replica signed one audits the number it signed (the
// CA's stored CRL number), not one more than the number it read.
func TestCRLAuditNumberAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	open := func() lanyard.Store {
		st, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	w := &crlBetween{}
	a := servicetest.New(t, servicetest.Options{Store: open(), Key: key, WrapStore: func(st lanyard.Store) lanyard.Store { w.Store = st; return w }})
	b := servicetest.New(t, servicetest.Options{Store: open(), Key: key})
	caName := a.CA.Name()
	w.between = func() {
		if err := b.Service.PKI.RefreshCRL(ctx, caName, true); err != nil {
			t.Error(err)
		}
	}
	if err := a.Service.PKI.RefreshCRL(ctx, caName, true); err != nil {
		t.Fatal(err)
	}
	if w.between != nil {
		t.Fatal("the refresh read no CA record")
	}
	var stored int64
	var audited []int64
	if err := a.Store.View(ctx, func(tx lanyard.Tx) error {
		rec, err := tx.CAByName(caName)
		if err != nil {
			return err
		}
		stored = rec.CRLNumber
		evs, err := tx.ListAudit(lanyard.AuditFilter{Limit: 1000})
		for _, ev := range evs {
			if ev.Action != "ca.crl" {
				continue
			}
			var d struct {
				N int64 `json:"crl_number"`
			}
			if err := json.Unmarshal(ev.Details, &d); err != nil {
				return err
			}
			audited = append(audited, d.N)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(audited)
	if len(audited) < 2 || audited[len(audited)-1] != stored || audited[len(audited)-2] != stored-1 {
		t.Fatalf("ca.crl events name CRLs %v; the CA's CRL is number %d (the last two refreshes signed %d and %d)", audited, stored, stored-1, stored)
	}
}
