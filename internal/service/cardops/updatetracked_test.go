package cardops_test

import (
	"context"
	"crypto/x509"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// TestUpdateCardRescansTracked: under a policy that searches for
// certificates on update (guide: "Search for certificates when card is …
// updated"), Update card contents reads the card again: a third-party
// certificate put on the card since the issue is offered and, chosen,
// tracked; one gone from the card (written over by another) is offered
// as untracked and unbound from the card by the next update, still on
// record; the certificates Lanyard renews are unaffected.
func TestUpdateCardRescansTracked(t *testing.T) {
	ctx := context.Background()
	e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) {
		s.Workflow.SearchTrackedCertificates, s.Workflow.AllowUserSelectTracked = true, true
	})
	first := e.putThirdPartyIssued(t, "Other system")
	o, err := e.svc.Cards.UpdateOptions(ctx, e.alice, e.target(), e.cardID)
	if err != nil {
		t.Fatal(err)
	}
	if !o.TrackedSelectable || len(o.Tracked) != 1 || o.Tracked[0].Slot != "9e" || len(o.Untracked) != 0 {
		t.Fatalf("tracked offered %+v, untracked %v; want the 9e certificate", o.Tracked, o.Untracked)
	}
	res, err := e.update(t, cardops.UpdateCardInput{Tracked: []string{"9e"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "done" {
		t.Fatalf("update %+v", res)
	}
	v := e.view(t)
	if !trackedFrom(v, first) {
		t.Fatalf("the third-party certificate is not tracked after the update: %+v", v.Certificates)
	}
	e.checkUpdated(t, "9a", "9d")

	// Another system writes over 9e; the next update finds the new one
	// and lets go of the old record.
	second := e.putThirdPartyIssued(t, "Another system")
	o, err = e.svc.Cards.UpdateOptions(ctx, e.alice, e.target(), e.cardID)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Tracked) != 1 || o.Tracked[0].Slot != "9e" || !slices.Equal(o.Untracked, []string{first.SerialNumber.Text(16)}) {
		t.Fatalf("second look: tracked offered %+v, untracked %v; want the new 9e certificate and the old one gone", o.Tracked, o.Untracked)
	}
	if _, err := e.update(t, cardops.UpdateCardInput{Tracked: []string{"9e"}}); err != nil {
		t.Fatal(err)
	}
	v = e.view(t)
	if !trackedFrom(v, second) || trackedFrom(v, first) {
		t.Fatalf("after the second update: %+v; want the new 9e certificate tracked and the old one unbound", v.Certificates)
	}
	if _, _, err := e.svc.PKI.GetCertificate(ctx, e.admin, "external:"+first.Issuer.String(), first.SerialNumber.Text(16)); err != nil {
		t.Errorf("the unbound record is gone: %v", err)
	}
}

// putThirdPartyIssued writes a third-party certificate with a new key
// into the issued card's slot 9E, as another system with the card's
// management key would (here derived as the server does).
func (e *updateEnv) putThirdPartyIssued(t *testing.T, issuer string) *x509.Certificate {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, e.card)
	_, secret, err := e.svc.Cards.AdminMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := personalize.Identify(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	k, err := personalize.Diversified(personalize.Master{Version: 1, Secret: secret}, lanyard.AdminKeyAES192, id.KeyIdent())
	if err != nil {
		t.Fatal(err)
	}
	adm, err := personalize.Authenticate(ctx, pc, k)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := adm.GenerateKey(ctx, pivspec.SlotCardAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := pc.Signer(ctx, pivspec.SlotCardAuthentication, pub) // 9E needs no PIN
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedAs(t, signer, issuer)
	if err := adm.PutCertificate(ctx, pivspec.SlotCardAuthentication, cert); err != nil {
		t.Fatal(err)
	}
	return cert
}

// trackedFrom reports whether the card view holds c as a tracked record,
// told apart by issuer as well as serial (two of the test's third-party
// certificates share a serial).
func trackedFrom(v *cardops.CardView, c *x509.Certificate) bool {
	for _, cc := range v.Certificates {
		if cc.Source == lanyard.SourceTracked && cc.Serial == c.SerialNumber.Text(16) && strings.Contains(cc.CA, c.Issuer.CommonName) {
			return true
		}
	}
	return false
}
