package issuance

import (
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// A software store's key is made by the workstation's agent, so an
// archive-key template (whose key must be made and archived on the
// server) is refused as a required certificate and not offered as an
// optional one, rather than issued with no archived copy (issue 17
// review, 4).
func TestSoftwareStoreRefusesArchiveKey(t *testing.T) {
	in := baseInput()
	in.CardType = &lanyard.CardType{Name: "soft", Kind: lanyard.KindSoftwareStore, KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}}
	in.Settings.AllowedCards = []string{"soft"}
	in.Settings.Certificates = lanyard.CertificateSettings{Required: []string{"email"}}
	archived := *in.Templates["email"]
	archived.KeyArchival = true
	in.Templates["email"] = &archived
	_, err := OfferSoftwareStore(in)
	wantErr(t, err, lanyard.EUnavailable, "archives its key")

	plain := archived
	plain.Name, plain.KeyArchival = "mail-plain", false
	in.Templates["mail-plain"] = &plain
	in.Settings.Certificates = lanyard.CertificateSettings{Required: []string{"mail-plain"}, Optional: []string{"email"}}
	o, err := OfferSoftwareStore(in)
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(o.Optional, func(i TemplateInfo) bool { return i.Name == "email" }) {
		t.Errorf("an archive-key template is offered for a software store: %+v", o.Optional)
	}
}
