package cardops_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// decryptSecureEmail makes secure-email a key-management template that
// does not archive its keys: its key exists only on the card.
func decryptSecureEmail(t *testing.T, e *issueEnv) {
	t.Helper()
	keyManagementSecureEmail(t, e, false)
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
	msg := []byte("minutes of the board, last year")
	mail, oldCert := e.sealToSlot(t, pivspec.SlotKeyManagement, msg)

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
	pc := e.checkKeptIn82(t, mail, msg)
	if c, err := pc.Certificate(ctx, 0x82); err != nil || !c.Equal(oldCert) {
		t.Fatalf("retired slot 82 holds %v, %v; want the old certificate", c, err)
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
	msg := []byte("only the card holds this key")
	mail, _ := e.sealToSlot(t, pivspec.SlotSignature, msg)
	res, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "done" {
		t.Fatalf("update %+v", res)
	}
	e.checkKeptIn82(t, mail, msg)

	// Recover keys onto card would write the archived keys from 82 up over
	// the key only the card holds: refused, with nothing written.
	pw := accountPassword
	if _, err := e.svc.Identity.UpdateUser(ctx, e.admin, "alice", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	setup, err := e.svc.Identity.BeginTOTPEnrollment(ctx, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	code := func() string {
		c, err := totp.GenerateCodeCustom(setup.Secret, e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := e.svc.Identity.ConfirmTOTP(ctx, e.alice, code()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(identity.TOTPPeriod)
	_, err = e.svc.Cards.RecoverKeysOntoCard(ctx, e.alice, e.cardID, cardops.RecoverKeysInput{CardTarget: e.target(), AccountPassword: accountPassword, Code: code()})
	wantCode(t, err, lanyard.EConflict)
	if err == nil || !strings.Contains(err.Error(), "only the card holds") {
		t.Fatalf("recover keys onto the card: %v, want the kept key named", err)
	}
	e.checkKeptIn82(t, mail, msg)
}

// sealToSlot encrypts msg to the certificate in slot of the card.
func (e *updateEnv) sealToSlot(t *testing.T, slot pivspec.Slot, msg []byte) (sealedMail, *x509.Certificate) {
	t.Helper()
	c, err := pivOf(t, e.card).Certificate(context.Background(), slot)
	if err != nil {
		t.Fatal(err)
	}
	return sealTo(t, c, msg), c
}

// checkKeptIn82 checks that the card's Key History Object counts one key
// and that retired slot 82 opens mail to msg (under the PIN); it returns
// the card, the PIN verified.
func (e *updateEnv) checkKeptIn82(t *testing.T, mail sealedMail, msg []byte) *piv.Card {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, e.card)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 1 {
		t.Fatalf("key history %+v, %v; want the old key counted", h, err)
	}
	if err := pc.VerifyPIN(ctx, updatePIN); err != nil {
		t.Fatal(err)
	}
	if got, err := mail.openWith(t, pc, 0x82); err != nil || string(got) != string(msg) {
		t.Fatalf("retired slot 82 opens the old mail to %q, %v; want the old key kept there", got, err)
	}
	return pc
}
