//go:build integration

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserUpdateCardContents on the real stack (pcscd, vpcd, the
// emulated card, the agent, Chromium, OpenSC, openssl). Alice's card holds
// the smart card logon certificate on a P-256 key. The administrator
// then changes what her policy wants: the logon template allows only
// P-384 keys now, and document signing becomes required. Self-Service
// says the policy changed; Update card (the card in its reader behind
// the agent) renews 9a with a new P-384 key and adds 9c. Through OpenSC
// the card then holds exactly the new certificates, each signs with
// alice's PIN as openssl verifies with the new certificate's key, both
// chain to the CA, and the CRL lists the old logon certificate as
// superseded.
func TestBrowserUpdateCardContents(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	alice, _ := s.user("alice")
	s.setPolicy(func(set map[string]any) {
		section(section(set, "workflow"), "issued_card_operations")["update"] = true
	})
	s.pair("alice")
	c := newVCard(t)
	s.insert(c)
	const pin = "24681357"
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: pin}, &res); err != nil {
		t.Fatal(err)
	}
	id := itoa(res.Card.ID)
	var old *apiv1.CardCertificate
	for _, x := range res.Card.Certificates {
		if x.Slot == "9a" {
			old = x
		}
	}
	if old == nil {
		t.Fatalf("issued without 9a: %+v", res.Card.Certificates)
	}

	var tpl map[string]any
	if err := s.admin.Get(ctx, "/api/v1/templates/smartcard-logon", &tpl); err != nil {
		t.Fatal(err)
	}
	tpl["key_algorithms"] = []string{"ecp384"}
	if _, err := s.admin.Do(ctx, "PUT", "/api/v1/templates/smartcard-logon", tpl, nil); err != nil {
		t.Fatal(err)
	}
	s.setPolicy(func(set map[string]any) {
		certs := section(set, "certificates")
		certs["required_templates"] = []string{"smartcard-logon", "document-signing"}
		certs["optional_templates"] = []string{"secure-email"}
	})

	b := mustBrowser(t, s.srv.URL)
	b.Login("alice", password)
	b.Visit("/")
	b.WaitFor("the banner", `(document.querySelector('#update-banner-`+id+`')?.textContent ?? '').endsWith('your policy changed — connect the card and choose Update card.')`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`summary[aria-label="Card menu for card `+res.Card.Serial+`"]`)))
	b.Run("Update card", chromedp.Click(chromedp.CSS("#card-update-"+id)))
	b.WaitFor("the options", `(() => { const rows = [...document.querySelectorAll('#update-options tbody tr')].map((r) => r.textContent);
		return rows.some((r) => r.startsWith('9a') && r.includes('Renew') && r.includes('its template changed'))
			&& rows.some((r) => r.startsWith('9c') && r.includes('Add') && r.includes('added by your policy'))
			&& !document.querySelector('#update-submit').disabled; })()`)
	b.CheckAccessible("Update card dialog on the real stack")
	b.Shot("update-01-dialog")
	b.Run("update", chromedp.Click(chromedp.CSS("#update-submit")))
	b.WaitFor("updated", `(document.querySelector('#update-result')?.textContent ?? '') === 'The card is updated.'`)
	b.Shot("update-02-done")

	v := s.cardView(res.Card.ID)
	written := map[string]*apiv1.CardCertificate{}
	for _, x := range v.Certificates {
		switch {
		case x.Status == lanyard.CertWritten:
			written[x.Slot] = x
		case x.Serial == old.Serial && x.Status != lanyard.CertRevoked:
			t.Errorf("the old logon certificate is %s, want revoked", x.Status)
		}
	}
	tk := openToken(t, s.reader)
	certs := tk.certs()
	if len(certs) != 2 || len(written) != 2 {
		t.Fatalf("after the update the card holds %d certificates, the server records %d written: %+v", len(certs), len(written), v.Certificates)
	}
	for sl, cert := range certs {
		if w := written[sl]; w == nil || !strings.EqualFold(w.Serial, cert.SerialNumber.Text(16)) {
			t.Errorf("slot %s holds %x; the server records %+v", sl, cert.SerialNumber, w)
		}
		tk.sign(sl, pin, cert)
	}
	if strings.EqualFold(certs["9a"].SerialNumber.Text(16), old.Serial) {
		t.Fatal("9a still holds the old certificate")
	}
	if k, ok := certs["9a"].PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("the new 9a key is %T, want P-384", certs["9a"].PublicKey)
	}
	s.verifyChain(certs)

	// The CRL the new certificate names lists the old one, superseded.
	urls := certs["9a"].CRLDistributionPoints
	if len(urls) == 0 {
		t.Fatal("the certificate names no CRL")
	}
	crl := filepath.Join(t.TempDir(), "issuing.crl")
	if err := os.WriteFile(crl, []byte(s.rawGet(strings.TrimPrefix(urls[0], s.srv.URL))), 0o600); err != nil {
		t.Fatal(err)
	}
	text := runTool(t, "openssl", "crl", "-inform", "DER", "-in", crl, "-noout", "-text")
	if !strings.Contains(strings.ToLower(text), strings.ToLower(old.Serial)) || !strings.Contains(text, "Superseded") {
		t.Errorf("the CRL does not list %s as superseded:\n%s", old.Serial, text)
	}
}
