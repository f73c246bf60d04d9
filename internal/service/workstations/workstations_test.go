package workstations_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// TestAgentsSeen: the hub's recheck records every connected workstation
// in batched transactions and names those no longer active — revoked,
// or deleted — across a batch boundary.
func TestAgentsSeen(t *testing.T) {
	e := servicetest.New(t, servicetest.Options{})
	ctx := context.Background()
	var ids []int64
	if err := e.Store.Update(ctx, func(tx lanyard.Tx) error {
		for i := range 1005 {
			w := &lanyard.Workstation{Name: fmt.Sprintf("pc-%04d", i), Status: lanyard.WorkstationActive, CreatedAt: time.Now()}
			if err := tx.CreateWorkstation(w); err != nil {
				return err
			}
			ids = append(ids, w.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	revoked := []int64{ids[3], ids[1002]} // one in each batch
	for _, id := range revoked {
		if _, err := e.Service.Workstations.RevokeWorkstation(ctx, e.Admin, id); err != nil {
			t.Fatal(err)
		}
	}
	const missing = 9_999_999
	inactive, err := e.Service.Workstations.AgentsSeen(ctx, append(slices.Clone(ids), missing))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(revoked), missing); !slices.Equal(inactive, want) {
		t.Errorf("inactive %v, want %v", inactive, want)
	}
	for _, id := range []int64{ids[0], ids[1004]} {
		var w *lanyard.Workstation
		if err := e.Store.View(ctx, func(tx lanyard.Tx) (err error) { w, err = tx.WorkstationByID(id); return err }); err != nil {
			t.Fatal(err)
		}
		if w.LastSeenAt.IsZero() || time.Since(w.LastSeenAt) > time.Minute {
			t.Errorf("workstation %d last seen %v, want now", id, w.LastSeenAt)
		}
	}
}

// TestPairingSettledWakesPolls: an agent's waiting pairing poll is woken
// by the confirmation (or revocation) itself, not by its next read of the
// store, each waiting poll of the workstation.
func TestPairingSettledWakesPolls(t *testing.T) {
	e := servicetest.New(t, servicetest.Options{})
	ctx := context.Background()
	root, err := e.Service.Workstations.AgentRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pair := func(host string) (int64, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: host}}, key)
		spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		out, err := e.Service.Workstations.StartPairing(ctx, "192.0.2.1", lanyard.PairingRequest{CSR: csr, Hostname: host, AgentVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return out.ID, agentproto.PairingCode(spki, root.Raw)
	}
	settledNow := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	id, code := pair("pc-a")
	first, release1 := e.Service.Workstations.PairingSettled(id)
	second, release2 := e.Service.Workstations.PairingSettled(id)
	defer release2()
	release1()
	release1() // twice is harmless
	if settledNow(first) {
		t.Fatal("settled before anything happened")
	}
	if _, err := e.Service.Workstations.ConfirmPairing(ctx, e.Admin, workstations.PairConfirm{Code: code}); err != nil {
		t.Fatal(err)
	}
	if !settledNow(first) || !settledNow(second) {
		t.Fatal("the confirmation did not wake the waiting polls")
	}

	id, _ = pair("pc-b")
	ch, release := e.Service.Workstations.PairingSettled(id)
	defer release()
	if _, err := e.Service.Workstations.RevokeWorkstation(ctx, e.Admin, id); err != nil {
		t.Fatal(err)
	}
	if !settledNow(ch) {
		t.Fatal("the revocation did not wake the waiting poll")
	}
}
