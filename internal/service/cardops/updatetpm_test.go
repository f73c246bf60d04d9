package cardops_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// A TPM virtual smart card is updated like a PIV card (it can move keys:
// the new RSA key is staged and moved in). Archive-key templates:
// TestUpdateTPMVirtualCardArchivesKey.
func TestUpdateTPMVirtualCard(t *testing.T) {
	e := newVirtualEnv(t, emu.SoftKeyStore{})
	e.enableTPM(t)
	ctx := context.Background()
	cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: lanyard.KindTPMVirtualCard, Name: "Laptop TPM"})
	if err != nil {
		t.Fatal(err)
	}
	target := cardops.CardTarget{WorkstationID: 1, Reader: cc.Reader}
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	old := res.Card.Certificates[0]
	// A year's window: the new certificate is due at once.
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Certificates.RenewalWindowDays = 365
		s.Workflow.IssuedCardOps.Update = true
	})
	up, err := e.svc.Cards.UpdateCard(ctx, e.alice, cardops.UpdateCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	if up.State != "done" || len(up.Slots) != 1 || up.Slots[0].OldSerial != old.Serial || up.Slots[0].NewSerial == "" {
		t.Fatalf("update %+v", up)
	}
	onCard, err := pivOf(t, e.access.Card(1, cc.Reader)).Certificate(ctx, pivspec.SlotAuthentication)
	if err != nil {
		t.Fatal(err)
	}
	if onCard.SerialNumber.Text(16) != up.Slots[0].NewSerial {
		t.Fatalf("slot 9A holds %x, want the new certificate %s", onCard.SerialNumber, up.Slots[0].NewSerial)
	}
	var was *lanyard.Certificate
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { was, err = tx.CertificateBySerial(old.CA, old.Serial); return }); err != nil {
		t.Fatal(err)
	}
	if was.Status != lanyard.CertRevoked || was.Reason != lanyard.ReasonSuperseded {
		t.Fatalf("old certificate %s (%s), want revoked superseded", was.Status, was.ReasonName)
	}

}
