package cardops_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestCancelCardUpdatePulledAnywhereDuringSwap pulls a card that can move keys
// after every APDU of a staged update, then cancels the update: Cancel
// card update is allowed only while every slot provably holds its old
// pair, whose certificate stays valid; once the swap of a slot may have
// begun (the new certificate written into it, its old key deleted or the
// new key moved in) Cancel refuses, and Continue card update finishes the
// swap from where the new key is.
func TestCancelCardUpdatePulledAnywhereDuringSwap(t *testing.T) {
	ctx := context.Background()
	refused := 0
	for after := 1; after < 400; after++ {
		e := newUpdateEnv(t, nil, nil)
		e.access.FailAfter(1, reader, after)
		if _, err := e.update(t, cardops.UpdateCardInput{}); err == nil {
			if refused == 0 {
				t.Fatal("no interruption left a swap begun")
			}
			return // every point was covered
		}
		if v := e.view(t); v.Update == nil || v.Update.Unfinished == nil {
			continue
		}
		_, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"})
		if err != nil {
			wantCode(t, err, lanyard.EConflict)
			if !strings.Contains(err.Error(), "continue the update with the card") {
				t.Fatalf("after %d APDUs: cancel refused with %v", after, err)
			}
			refused++
			if _, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target()); err != nil {
				t.Fatalf("after %d APDUs: continue: %v", after, err)
			}
			e.checkUpdated(t, "9a", "9d")
			continue
		}
		e.checkOldPairs(t, after)
	}
	t.Fatal("the update never completed")
}

// checkOldPairs checks, after a cancelled update, that each slot holds a
// valid certificate with its key: its old one, or the new one of a slot
// the update finished (read back, the old one superseded) before it was
// interrupted.
func (e *updateEnv) checkOldPairs(t *testing.T, after int) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, e.card)
	for name, old := range e.old {
		slot, _ := personalize.ParseSlot(name)
		c, err := pc.Certificate(ctx, slot)
		if err != nil {
			t.Fatalf("after %d APDUs, cancelled: slot %s: %v", after, name, err)
		}
		md, err := pc.Metadata(ctx, slot.Ref())
		if err != nil || !personalize.PublicKeysEqual(md.PublicKey, c.PublicKey) {
			t.Fatalf("after %d APDUs, cancelled: slot %s holds a certificate without its key (%v)", after, name, err)
		}
		serial := c.SerialNumber.Text(16)
		if rec := e.cert(t, serial); rec.Status == lanyard.CertRevoked {
			t.Fatalf("after %d APDUs, cancelled: slot %s holds certificate %s, revoked (%s)", after, name, serial, rec.ReasonName)
		}
		if serial == old.Serial {
			continue
		}
		if rec := e.cert(t, old.Serial); rec.Reason != lanyard.ReasonSuperseded {
			t.Fatalf("after %d APDUs, cancelled: slot %s holds new certificate %s, its old one is %s", after, name, serial, rec.Status)
		}
	}
}

// Cancel card update revokes the update's unused certificates by their
// CA and card: a certificate of another CA with the same serial (a serial
// is unique per issuer only), bound to no card, stays valid, and the
// update's own one is revoked.
func TestCancelCardUpdateRevokesOnlyTheCardsCertificate(t *testing.T) {
	ctx := context.Background()
	for after := 1; after < 400; after++ {
		e := newUpdateEnvOpts(t, nil, nil, nil, servicetest.Options{FirstCAs: []string{"aaa-other"}})
		// The update's certificates come from "builtin", listed after
		// "aaa-other".
		for _, name := range []string{"smartcard-logon", "secure-email"} {
			tpl, err := e.svc.Catalog.GetTemplate(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			tpl.CA = "builtin"
			if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, name, *tpl); err != nil {
				t.Fatal(err)
			}
		}
		e.access.FailAfter(1, reader, after)
		if _, err := e.update(t, cardops.UpdateCardInput{}); err == nil {
			t.Fatal("no interruption left an issued certificate to cancel")
		}
		v := e.view(t)
		if v.Update == nil || v.Update.Unfinished == nil {
			continue
		}
		var rec struct {
			Certs  map[string]string `json:"certs"`
			Update struct {
				Swapping map[string]bool `json:"swapping"`
			} `json:"update"`
		}
		if err := json.Unmarshal(v.Update.Unfinished.Data, &rec); err != nil {
			t.Fatal(err)
		}
		serial := rec.Certs["9a"]
		if serial == "" || rec.Update.Swapping["9a"] {
			continue
		}
		mine := e.cert(t, serial)
		other := *mine
		other.ID, other.CA, other.CardID = 0, "aaa-other", 0
		if err := e.st.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCertificate(&other) }); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"}); err != nil {
			t.Fatal(err)
		}
		var got *lanyard.Certificate
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { got, err = tx.CertificateBySerial("aaa-other", serial); return }); err != nil {
			t.Fatal(err)
		}
		if got.Status == lanyard.CertRevoked {
			t.Fatalf("another CA's certificate %s, not on the card, was revoked by the cancel", serial)
		}
		if c := e.cert(t, serial); c.Status != lanyard.CertRevoked || c.Reason != lanyard.ReasonCessationOfOperation {
			t.Fatalf("the update's certificate %s is %s (%s), want revoked (cessation of operation)", serial, c.Status, c.ReasonName)
		}
		return
	}
	t.Fatal("the update never completed")
}

// A cancelled update leaves no archived key of its own behind: neither
// the pending key of a request approved since the update last ran, nor
// the active key of a certificate signed and never written (the card
// pulled before its import). Each is discarded (its sealed copy erased,
// one key.discard event), and the card's archived key of the old
// certificate stays active.
func TestCancelCardUpdateDiscardsItsArchivedKeys(t *testing.T) {
	ctx := context.Background()
	t.Run("approved, not continued", func(t *testing.T) {
		e := newUpdateEnvBefore(t, func(t *testing.T, e *issueEnv) { archiveSecureEmail(t, e) })
		_, reqs := e.pendingUpdate(t)
		for _, id := range reqs {
			if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"}); err != nil {
			t.Fatal(err)
		}
		e.checkOnlyOldKeyArchived(t)
	})
	// A server that stopped between binding 9D's approved certificate
	// (its archived key certified, active) and importing 9D's key: the
	// record is made as Continue card update's approved step leaves it,
	// and the update interrupted.
	t.Run("signed, never written", func(t *testing.T) {
		e := newUpdateEnvBefore(t, func(t *testing.T, e *issueEnv) { archiveSecureEmail(t, e) })
		serial := e.approved9dThenStopped(t, func(tx lanyard.Tx, d map[string]any, cert *x509.Certificate) error {
			id := int64(d["update"].(map[string]any)["archived"].(map[string]any)["9d"].(float64))
			_, _, err := e.svc.Archive.CertifyTx(tx, id, cert)
			return err
		})
		if _, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"}); err != nil {
			t.Fatal(err)
		}
		if c := e.cert(t, serial); c.Reason != lanyard.ReasonCessationOfOperation {
			t.Fatalf("9D's unwritten certificate is %s, want revoked (cessation of operation)", c.Status)
		}
		e.checkOnlyOldKeyArchived(t)
	})
}

// A reuse-key renewal of an archive-key template certifies the card's
// archived key again, moving it to the new certificate; cancelled before
// the new certificate reached the card (a server stopped between the
// approved step and the write), the archived key goes back to the old
// certificate, which the card still holds: it stays recoverable and the
// next update sees it archived.
func TestCancelCardUpdateReuseKeyArchivedKeyBack(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnvBefore(t, func(t *testing.T, e *issueEnv) { archiveSecureEmail(t, e) })
	e.setRenewalKey(t, lanyard.RenewalReuseKey, "secure-email")
	e.approved9dThenStopped(t, func(tx lanyard.Tx, _ map[string]any, cert *x509.Certificate) error {
		ks, err := tx.ArchivedKeysOf(e.alice.User.ID, "secure-email")
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.State == lanyard.ArchivedKeyActive {
				if _, _, err := e.svc.Archive.RecertifyTx(tx, k.ID, cert); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if _, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"}); err != nil {
		t.Fatal(err)
	}
	var keys []*lanyard.ArchivedKey
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
		keys, err = tx.ArchivedKeysOf(e.alice.User.ID, "secure-email")
		return
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].State != lanyard.ArchivedKeyActive || keys[0].CertificateSerial != e.old["9d"].Serial {
		t.Fatalf("archived keys after the cancel: %+v, want the one key active for the old certificate %s", keys, e.old["9d"].Serial)
	}
}

// checkOnlyOldKeyArchived checks alice's secure-email archived keys
// after a cancelled update: the old certificate's key active, every
// other one discarded with its sealed copy erased and a key.discard
// event.
func (e *updateEnv) checkOnlyOldKeyArchived(t *testing.T) {
	t.Helper()
	var keys []*lanyard.ArchivedKey
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) {
		keys, err = tx.ArchivedKeysOf(e.alice.User.ID, "secure-email")
		return
	}); err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, k := range keys {
		switch {
		case k.State == lanyard.ArchivedKeyActive && k.CertificateSerial == e.old["9d"].Serial:
			active++
		case k.State == lanyard.ArchivedKeyDiscarded && k.SealedKey == nil:
			if e.audit(t, "key.discard", formatID(k.ID)) != 1 {
				t.Fatalf("archived key %d discarded without one key.discard event", k.ID)
			}
		default:
			t.Fatalf("archived key %d is %s (certificate %q) after the cancelled update, want discarded", k.ID, k.State, k.CertificateSerial)
		}
	}
	if active != 1 || len(keys) < 2 {
		t.Fatalf("%d archived keys, %d active for the old certificate; want the old one active and the update's discarded", len(keys), active)
	}
}

// approved9dThenStopped leaves an update as a server that stopped right
// after Continue card update's approved step for 9D leaves it: the
// update waits for the CA, 9D's request is approved, the update's record
// names 9D's certificate, bind (the archive's part of that step) ran in
// the same transaction, and the update is interrupted. It returns 9D's
// new serial.
func (e *updateEnv) approved9dThenStopped(t *testing.T, bind func(tx lanyard.Tx, d map[string]any, cert *x509.Certificate) error) string {
	t.Helper()
	res, _ := e.pendingUpdate(t)
	var req int64
	for _, c := range res.Card.Certificates {
		if c.Slot == "9d" && c.RequestID != 0 && c.Status == lanyard.CertPending {
			req = c.RequestID
		}
	}
	ap, err := e.svc.PKI.ApproveRequest(context.Background(), e.admin, req, "ok")
	if err != nil {
		t.Fatal(err)
	}
	serial := ap.Certificate.Serial
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: e.cardID, Kind: lanyard.OpUpdate})
		if err != nil {
			return err
		}
		var d map[string]any
		if err := json.Unmarshal(ops[0].Data, &d); err != nil {
			return err
		}
		d["certs"] = map[string]any{"9d": serial}
		rec, err := tx.CertificateBySerial("builtin", serial)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(rec.DER)
		if err != nil {
			return err
		}
		if err := bind(tx, d, cert); err != nil {
			return err
		}
		prev := ops[0].UpdatedAt
		ops[0].State, ops[0].Step = lanyard.OpInterrupted, "approved:9d"
		if ops[0].Data, err = json.Marshal(d); err != nil {
			return err
		}
		return tx.UpdateOperation(ops[0], prev)
	})
	return serial
}
