//go:build integration

package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestSoftwareStores is the guide's "Registry" on the real stack: the
// workstation's agent (in process, connected through the agent listener)
// writes the machine store into a directory of the test and tia's user
// store under a home of the test, whose NSS database was made before the
// issue. Tia issues a user store and a machine store in Self-Service in
// Chromium with a key container password (the template prompts for one),
// and one more through the API. Each PKCS#12 file opens with
// `openssl pkcs12` and its password, shows a certificate that the
// built-in CA issued and that verifies to its root, holds the private
// key of that certificate, and is refused with a wrong password; the
// user stores are in NSS (`certutil -L`).
func TestSoftwareStores(t *testing.T) {
	for _, tool := range []string{"certutil", "pk12util"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (run scripts/card-deps.sh; make test does): %v", tool, err)
		}
	}
	s := newStack(t)
	home := t.TempDir()
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	runTool(t, "certutil", "-N", "--empty-password", "-d", "sql:"+nssdb)
	machine := filepath.Join(t.TempDir(), "machine")
	s.softStore = &agent.SoftStore{MachineDir: machine, Account: func(login string) (agent.LocalAccount, error) {
		return agent.LocalAccount{Home: home, UID: -1, GID: -1}, nil
	}}

	_, tiaToken := s.user("tia")
	// Smart card logon is for card-held keys only and stays out of the
	// stores; secure-email, required, goes in.
	s.setPolicy(func(settings map[string]any) {
		settings["allowed_card_types"] = []string{"piv", "software-store"}
		section(settings, "issuance")["max_cards_per_user"] = 0
		section(settings, "certificates")["required_templates"] = []string{"smartcard-logon", "secure-email"}
		section(settings, "certificates")["optional_templates"] = []string{"document-signing"}
	})
	ctx := context.Background()
	var tpl lanyard.Template
	if err := s.admin.Get(ctx, "/api/v1/templates/secure-email", &tpl); err != nil {
		t.Fatal(err)
	}
	tpl.PromptKeyPassword = true
	if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/templates/secure-email", &tpl, nil); err != nil {
		t.Fatal(err)
	}
	s.pair("tia")

	b := mustBrowser(t, s.srv.URL)
	b.Login("tia", password)
	issue := func(scope, name, pw string) string {
		t.Helper()
		b.Visit("/")
		b.WaitFor("Issue software store ("+scope+")", `document.querySelector('#softstore button[data-scope="`+scope+`"]')`)
		b.Run("Issue software store ("+scope+")", chromedp.Click(`#softstore button[data-scope="`+scope+`"]`))
		b.WaitFor("the software store dialog", `document.querySelector('#soft-form')`)
		if got := b.Text("#soft-form"); !strings.Contains(got, "cannot be reset: if you forget it, issue the certificate again") {
			t.Errorf("the dialog does not say the password cannot be reset: %q", got)
		}
		// A weak password is refused by the server with the rule.
		b.Run("name and a weak password", chromedp.SendKeys("#soft-name", name), chromedp.SendKeys("#soft-password", "weakpassword"),
			chromedp.SendKeys("#soft-password2", "weakpassword"))
		b.Run("Issue", chromedp.Click("#soft-issue"))
		b.WaitFor("the refusal", `document.querySelector('#soft-error').textContent`)
		if got := b.Text("#soft-error"); !strings.Contains(got, "mix at least 3") {
			t.Errorf("a weak password: %q", got)
		}
		b.Shot("soft-" + scope + "-1-weak-password")
		b.Run("a good password", chromedp.SetValue(chromedp.CSS("#soft-password"), pw), chromedp.SetValue(chromedp.CSS("#soft-password2"), pw))
		b.CheckAccessible("Software store dialog (" + scope + ")")
		b.Run("Issue", chromedp.Click("#soft-issue"))
		b.WaitFor("the software store issued", `document.querySelector('#soft-result') || (document.querySelector('#soft-error').textContent !== '' && !document.querySelector('#soft-error').textContent.includes('mix at least'))`)
		if !b.exists("#soft-result") {
			t.Fatalf("issuing the %s store: %q", scope, b.Text("#soft-error"))
		}
		b.Shot("soft-" + scope + "-2-issued")
		return b.Text("#soft-result code")
	}
	userPath := issue("user", "Laptop", "Tia-Store-2024")
	if want := filepath.Join(home, agent.UserStoreDir, "Laptop.p12"); userPath != want {
		t.Errorf("user store at %s, want %s", userPath, want)
	}
	if !strings.Contains(b.Text("#soft-result"), "also added to your NSS database") {
		t.Errorf("the result does not mention NSS: %q", b.Text("#soft-result"))
	}
	machinePath := issue("machine", "Workstation TLS", "Machine-Key-77")
	if filepath.Dir(machinePath) != machine || !strings.HasSuffix(machinePath, "Workstation-TLS.p12") {
		t.Errorf("machine store at %s", machinePath)
	}
	b.Visit("/")
	b.WaitFor("the software stores in Your cards", `document.querySelectorAll('#cards article').length === 2`)
	b.Shot("soft-3-your-cards")
	b.CheckConsole()

	// One more through the API.
	user := mustClient(t, s.srv.URL, tiaToken)
	var res apiv1.SoftwareStoreResult
	if _, err := user.Post(ctx, "/api/v1/software-stores", apiv1.SoftwareStoreInput{WorkstationID: s.ws, Scope: lanyard.ScopeUser, Name: "api",
		Password: "Api-Store-31"}, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 1 || !res.Files[0].NSS || res.Card.State != lanyard.CardIssued {
		t.Fatalf("API issue: %+v", res)
	}

	certs := map[string]*x509.Certificate{}
	for name, f := range map[string]struct{ path, pw string }{
		"user": {userPath, "Tia-Store-2024"}, "machine": {machinePath, "Machine-Key-77"}, "api": {res.Files[0].Path, "Api-Store-31"},
	} {
		certs[name] = checkPKCS12(t, f.path, f.pw)
		if fi, err := os.Stat(f.path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s store file mode: %v %v", name, fi, err)
		}
	}
	s.verifyChain(certs)

	out := runTool(t, "certutil", "-L", "-d", "sql:"+nssdb)
	cn := certs["user"].Subject.CommonName
	if strings.Count(out, cn) != 2 || !strings.Contains(out, "u,u,u") {
		t.Errorf("certutil -L does not list both user stores' certificates %q (with their keys):\n%s", cn, out)
	}
	keys := runTool(t, "certutil", "-K", "-d", "sql:"+nssdb)
	if strings.Count(keys, cn) != 2 {
		t.Errorf("certutil -K does not list both user stores' keys:\n%s", keys)
	}
}

// checkPKCS12 opens a store with openssl: with its password it shows the
// certificate and the key, whose public key is the certificate's; with a
// wrong one it fails. It returns the certificate.
func checkPKCS12(t *testing.T, path, pw string) *x509.Certificate {
	t.Helper()
	out := runTool(t, "openssl", "pkcs12", "-in", path, "-nokeys", "-clcerts", "-passin", "pass:"+pw)
	blk, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	if blk == nil {
		t.Fatalf("openssl pkcs12 %s shows no certificate:\n%s", path, out)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if bad, err := exec.Command("openssl", "pkcs12", "-in", path, "-nokeys", "-passin", "pass:"+pw+"-wrong").CombinedOutput(); err == nil {
		t.Errorf("openssl opened %s with a wrong password:\n%s", path, bad)
	}
	dir := t.TempDir()
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	runTool(t, "openssl", "pkcs12", "-in", path, "-nocerts", "-nodes", "-passin", "pass:"+pw, "-out", keyFile)
	writePEM(t, certFile, cert.Raw)
	fromKey := runTool(t, "openssl", "pkey", "-in", keyFile, "-pubout")
	fromCert := runTool(t, "openssl", "x509", "-in", certFile, "-noout", "-pubkey")
	if fromKey != fromCert || !strings.Contains(fromKey, "PUBLIC KEY") {
		t.Errorf("%s: the key's public key\n%s\nis not the certificate's\n%s", path, fromKey, fromCert)
	}
	return cert
}
