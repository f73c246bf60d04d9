//go:build integration

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestSoftwareStoreReissue on the real stack: tia's user store, written
// by the workstation's agent (in process, through the agent listener),
// holds secure-email on a P-256 key. The administrator then lets
// secure-email take P-384 keys only. Self-Service says the store's
// policy changed; Update card opens the re-issue dialog, which refuses a
// weak key container password (the policy's rules) and re-issues with a
// good one: the agent writes a new PKCS#12 file beside the old one, which
// `openssl pkcs12` opens with the new password, holding a new P-384 key
// and the new certificate, chained to the built-in CA; the old
// certificate is revoked (superseded), its file left in place. A second
// re-issue says the store is up to date.
func TestSoftwareStoreReissue(t *testing.T) {
	s := newStack(t)
	home := t.TempDir()
	s.softStore = &agent.SoftStore{MachineDir: filepath.Join(t.TempDir(), "machine"), Account: func(login string) (agent.LocalAccount, error) {
		return agent.LocalAccount{Home: home, UID: -1, GID: -1}, nil
	}}
	_, tiaToken := s.user("tia")
	s.setPolicy(func(settings map[string]any) {
		settings["allowed_card_types"] = []string{"piv", "software-store"}
		section(settings, "issuance")["max_cards_per_user"] = 0
		section(settings, "certificates")["required_templates"] = []string{"smartcard-logon", "secure-email"}
		section(settings, "certificates")["optional_templates"] = []string{"document-signing"}
		section(section(settings, "workflow"), "issued_card_operations")["update"] = true
	})
	ctx := context.Background()
	setTemplate := func(change func(*lanyard.Template)) {
		t.Helper()
		var tpl lanyard.Template
		if err := s.admin.Get(ctx, "/api/v1/templates/secure-email", &tpl); err != nil {
			t.Fatal(err)
		}
		change(&tpl)
		if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/templates/secure-email", &tpl, nil); err != nil {
			t.Fatal(err)
		}
	}
	setTemplate(func(tpl *lanyard.Template) {
		tpl.PromptKeyPassword = true
		tpl.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.ECP256}
	})
	s.pair("tia")

	tia := mustClient(t, s.srv.URL, tiaToken)
	var issued apiv1.SoftwareStoreResult
	if _, err := tia.Post(ctx, "/api/v1/software-stores", apiv1.SoftwareStoreInput{WorkstationID: s.ws, Scope: lanyard.ScopeUser, Name: "Laptop",
		Password: "Tia-Store-2024"}, &issued); err != nil {
		t.Fatal(err)
	}
	if len(issued.Files) != 1 {
		t.Fatalf("issued %+v", issued.Files)
	}
	oldPath, oldSerial := issued.Files[0].Path, issued.Files[0].Certificate
	id := itoa(issued.Card.ID)
	setTemplate(func(tpl *lanyard.Template) { tpl.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.ECP384} })

	b := mustBrowser(t, s.srv.URL)
	b.Login("tia", password)
	b.Visit("/")
	b.WaitFor("the banner", `(document.querySelector('#update-banner-`+id+`')?.textContent ?? '').endsWith('your policy changed — choose Update card to re-issue it.')`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`summary[aria-label="Card menu for card `+issued.Card.Serial+`"]`)))
	b.Run("Update card", chromedp.Click(chromedp.CSS("#card-update-"+id)))
	b.WaitFor("the re-issue dialog", `document.querySelector('#reissue-password')`)
	if got := b.Text("#reissue-changes"); !strings.Contains(got, "secure-email: renewed") {
		t.Errorf("the dialog lists %q", got)
	}
	b.Run("a weak password", chromedp.SendKeys("#reissue-password", "weakpassword"), chromedp.SendKeys("#reissue-password2", "weakpassword"))
	b.Run("Re-issue", chromedp.Click("#reissue-submit"))
	b.WaitFor("the refusal", `[...document.querySelectorAll('dialog .status')].some((p) => p.textContent.includes('mix at least 3'))`)
	b.Run("a good password", chromedp.SetValue(chromedp.CSS("#reissue-password"), "Tia-Store-2025"), chromedp.SetValue(chromedp.CSS("#reissue-password2"), "Tia-Store-2025"))
	b.CheckAccessible("Software store re-issue dialog")
	b.Shot("soft-reissue-1-dialog")
	b.Run("Re-issue", chromedp.Click("#reissue-submit"))
	b.WaitFor("re-issued", `(document.querySelector('#cards-status')?.textContent ?? '').startsWith('The software store is re-issued.')`)
	b.Shot("soft-reissue-2-done")
	b.CheckConsole()

	v := s.cardView(issued.Card.ID)
	var fresh *apiv1.CardCertificate
	for _, c := range v.Certificates {
		switch {
		case c.Serial == oldSerial && c.Status != lanyard.CertRevoked:
			t.Errorf("the old certificate is %s, want revoked", c.Status)
		case c.Serial != oldSerial && c.Status == lanyard.CertWritten:
			fresh = c
		}
	}
	if fresh == nil {
		t.Fatalf("no new certificate written: %+v", v.Certificates)
	}
	files, err := filepath.Glob(filepath.Join(home, agent.UserStoreDir, "Laptop-*.p12"))
	if err != nil || len(files) != 1 {
		t.Fatalf("new store files %v, %v", files, err)
	}
	if !strings.Contains(b.Text("#cards-status"), files[0]) {
		t.Errorf("the page does not name the new file %s: %q", files[0], b.Text("#cards-status"))
	}
	cert := checkPKCS12(t, files[0], "Tia-Store-2025")
	if !strings.EqualFold(cert.SerialNumber.Text(16), fresh.Serial) {
		t.Errorf("the new file holds %x, the server records %s", cert.SerialNumber, fresh.Serial)
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("the new key is %T, want P-384", cert.PublicKey)
	}
	old := checkPKCS12(t, oldPath, "Tia-Store-2024") // left in place
	if !strings.EqualFold(old.SerialNumber.Text(16), oldSerial) {
		t.Errorf("the old file holds %x", old.SerialNumber)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new store file mode: %v %v", fi, err)
	}
	s.verifyChain(map[string]*x509.Certificate{"new": cert})

	// Nothing is due any more.
	_, err = tia.Post(ctx, "/api/v1/cards/"+id+"/software-store/reissue", apiv1.StoreReissueInput{Password: "Tia-Store-2026"}, nil)
	if err == nil || !strings.Contains(err.Error(), "is up to date") {
		t.Errorf("a second re-issue: %v", err)
	}
}
