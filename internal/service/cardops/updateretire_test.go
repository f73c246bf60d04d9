package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// decryptSecureEmail makes secure-email a key-management template that
// does not archive its keys: its key exists only on the card.
func decryptSecureEmail(t *testing.T, e *issueEnv) {
	t.Helper()
	ctx := context.Background()
	tpl, err := e.svc.Catalog.GetTemplate(ctx, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	tpl.KeyUsage, tpl.KeyArchival = []string{lanyard.KUKeyEncipherment, lanyard.KUKeyAgreement}, false
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, "secure-email", *tpl); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateCardKeepsOldDecryptionKey: secure-email (key agreement, no
// key archival) is renewed with a new key on a card that can move keys.
// The old key, which only the card holds, is not deleted: it moves into
// retired slot 82 with its certificate, the Key History Object counting
// it, so mail encrypted to the old certificate still opens with the card;
// the new key in 9D does not open it. One card.key.retire event names it,
// and the dialog offers it without a caution.
func TestUpdateCardKeepsOldDecryptionKey(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnvBefore(t, decryptSecureEmail)
	pc := pivOf(t, e.card)
	oldCert, err := pc.Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("minutes of the board, last year")
	mail := sealTo(t, oldCert, msg)

	o, err := e.svc.Cards.UpdateOptions(ctx, e.alice, e.target(), e.cardID)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Cautions) != 0 {
		t.Fatalf("cautions %v, want none (the old key is kept)", o.Cautions)
	}
	for _, r := range o.Slots {
		if r.Slot == "9d" && (!r.Staged || !r.Retire) {
			t.Fatalf("9D row %+v, want staged, the old key retired", r)
		}
	}
	if _, err := e.update(t, cardops.UpdateCardInput{}); err != nil {
		t.Fatal(err)
	}
	e.checkUpdated(t, "9a", "9d")
	pc = pivOf(t, e.card)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 1 {
		t.Fatalf("key history %+v, %v; want the old key counted", h, err)
	}
	if c, err := pc.Certificate(ctx, 0x82); err != nil || !c.Equal(oldCert) {
		t.Fatalf("retired slot 82 holds %v, %v; want the old certificate", c, err)
	}
	if err := pc.VerifyPIN(ctx, updatePIN); err != nil {
		t.Fatal(err)
	}
	if got, err := mail.openWith(t, pc, 0x82); err != nil || string(got) != string(msg) {
		t.Fatalf("the card's retired key opens the old mail to %q, %v", got, err)
	}
	if _, err := mail.openWith(t, pc, pivspec.SlotKeyManagement); err == nil {
		t.Fatal("the new 9D key opens mail encrypted to the old certificate")
	}
	if n := e.audit(t, "card.key.retire", e.old["9d"].Serial); n != 1 {
		t.Fatalf("%d card.key.retire events, want 1", n)
	}
}

// An update that keeps one template's old decryption key on the card
// (decrypt-9c: key agreement, no archival, retired into 82) and renews
// an archive-key template with a new key (secure-email, whose earlier
// archived key would go into the history from 82) does not write the
// archived history over the key only the card holds: mail encrypted to
// the old 9C certificate still opens with retired slot 82, and the
// archived key stays on the server.
func TestUpdateCardKeepsOnlyOnCardKeyOverArchivedHistory(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnvBefore(t, func(t *testing.T, e *issueEnv) {
		archiveSecureEmail(t, e)
		tpl, err := e.svc.Catalog.GetTemplate(ctx, "secure-email")
		if err != nil {
			t.Fatal(err)
		}
		tpl.Name, tpl.Slot, tpl.KeyArchival = "decrypt-9c", "9c", false
		if _, err := e.svc.Catalog.CreateTemplate(ctx, e.admin, *tpl); err != nil {
			t.Fatal(err)
		}
		e.setPolicy(t, func(s *lanyard.PolicySettings) {
			s.Certificates.Required = []string{"smartcard-logon", "decrypt-9c"}
		})
	})
	pc := pivOf(t, e.card)
	old9c, err := pc.Certificate(ctx, pivspec.SlotSignature)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("only the card holds this key")
	mail := sealTo(t, old9c, msg)
	res, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "done" {
		t.Fatalf("update %+v", res)
	}
	pc = pivOf(t, e.card)
	if err := pc.VerifyPIN(ctx, updatePIN); err != nil {
		t.Fatal(err)
	}
	if got, err := mail.openWith(t, pc, 0x82); err != nil || string(got) != string(msg) {
		t.Fatalf("retired slot 82 opens the old 9C mail to %q, %v; want the old 9C key kept", got, err)
	}
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 1 {
		t.Fatalf("key history %+v, %v; want the kept key", h, err)
	}
}
