package cardops_test

import (
	"context"
	"encoding/json"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// TestCancelCardUpdatePulledDuringSwap pulls a card that can move keys
// after every APDU of a staged update, then cancels the update: Cancel
// card update is allowed only while every slot provably holds its old
// pair, whose certificate stays valid; once the swap of a slot may have
// begun (the new certificate written into it, its old key deleted or the
// new key moved in) Cancel refuses, and Continue card update finishes the
// swap from where the new key is.
func TestCancelCardUpdatePulledDuringSwap(t *testing.T) {
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
