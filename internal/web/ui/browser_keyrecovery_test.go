//go:build integration

package ui_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// archivedKeyFor gives login an active archived key of an archive-key
// template, certified by a throw-away issuer, as issuing a card with such
// a template leaves it; it returns the key.
func archivedKeyFor(t *testing.T, s *site, login string) (*lanyard.ArchivedKey, crypto.Signer) {
	t.Helper()
	return archivedKeyOn(t, s, login, "k-"+login)
}

// archivedKeyOn is archivedKeyFor with the key made for a new card of
// login's with serial cardSerial.
func archivedKeyOn(t *testing.T, s *site, login, cardSerial string) (*lanyard.ArchivedKey, crypto.Signer) {
	t.Helper()
	ctx := context.Background()
	st := s.srv.Store
	var owner *lanyard.User
	storetest.MustView(t, st, func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin(login); return })
	tpl := &lanyard.Template{Name: "encryption", CA: "builtin", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, KeyUsage: []string{lanyard.KUKeyAgreement}, KeyArchival: true}
	var card *lanyard.Card
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		if _, err := tx.TemplateByName(tpl.Name); lanyard.IsCode(err, lanyard.ENotFound) {
			if err := tx.CreateTemplate(tpl); err != nil {
				return err
			}
		}
		card = storetest.NewCard(cardSerial, owner.ID)
		return tx.CreateCard(card)
	})
	sys := &lanyard.Principal{User: &lanyard.User{Login: "test"}}
	k, key, err := s.srv.Service.Archive.Generate(ctx, sys, archive.Request{OwnerID: owner.ID, CardID: card.ID, Template: tpl})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: login},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyAgreement}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		return tx.CreateCertificate(lanyard.ManagedCertificate(cert, tpl, owner, time.Now()))
	})
	if err := s.srv.Service.Archive.Certify(ctx, sys, k.ID, cert); err != nil {
		t.Fatal(err)
	}
	k.CertificateSerial = lanyard.SerialHex(cert.SerialNumber)
	return k, key
}

// enrolTOTP enrols an authenticator app for login through the API and
// remembers its key for webtest.TOTPCode.
func enrolTOTP(t *testing.T, s *site, login string) {
	t.Helper()
	code, body := s.api("POST", "/api/v1/tokens", map[string]any{"user": login, "ttl": "1h"})
	var tok apiv1.NewToken
	if code != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token for %s: %d %s", login, code, body)
	}
	call := func(path string, in any, want int) []byte {
		j, _ := json.Marshal(in)
		req, _ := http.NewRequest("POST", s.srv.URL+path, bytes.NewReader(j))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s for %s: %d %s", path, login, res.StatusCode, out)
		}
		return out
	}
	var info apiv1.TOTPSetup
	if err := json.Unmarshal(call("/api/v1/me/totp", nil, 201), &info); err != nil {
		t.Fatal(err)
	}
	webtest.RememberTOTP(s.srv.URL, login, info.Secret)
	call("/api/v1/me/totp/confirm", map[string]any{"code": webtest.TOTPCode(t, s.srv.URL, login)}, 200)
}

// catchDownloads makes the page keep every file it hands to the browser
// (URL.createObjectURL of a Blob) as base64 in window.lanyardDownloads.
func catchDownloads(b *browser) {
	uitest.Eval[bool](b, `(() => {
		window.lanyardDownloads = [];
		const orig = URL.createObjectURL;
		URL.createObjectURL = (blob) => {
			const r = new FileReader();
			r.onload = () => window.lanyardDownloads.push(r.result.split(',')[1]);
			r.readAsDataURL(blob);
			return orig(blob);
		};
		return true;
	})()`)
}

// download waits for the n-th caught file and returns it.
func download(t *testing.T, b *browser, n int) []byte {
	t.Helper()
	b.WaitFor("file downloaded", `window.lanyardDownloads.length >= `+itoa(n))
	raw, err := base64.StdEncoding.DecodeString(uitest.Eval[string](b, `window.lanyardDownloads[`+itoa(n-1)+`]`))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// fillRecovery types the recovery dialog's secrets and submits it.
func fillRecovery(b *browser, filePW, filePW2, accountPW, code string) {
	uitest.Eval[bool](b, `(() => { for (const id of ['recover-password', 'recover-password2', 'recover-account', 'recover-code']) document.getElementById(id).value = ''; return true; })()`)
	b.Run("fill the recovery dialog",
		chromedp.SendKeys(chromedp.CSS("#recover-password"), filePW),
		chromedp.SendKeys(chromedp.CSS("#recover-password2"), filePW2),
		chromedp.SendKeys(chromedp.CSS("#recover-account"), accountPW),
		chromedp.SendKeys(chromedp.CSS("#recover-code"), code),
		chromedp.Click(chromedp.CSS("#recover-submit")),
	)
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// TestBrowserRecoverOwnKey: alice finds her archived key on the
// Encryption keys page and takes it out as a PKCS #12 file: mismatched
// passwords are caught on the page, a wrong authenticator code is refused
// by the server and gives no file, the right one gives a file that opens
// with her password to her very key.
func TestBrowserRecoverOwnKey(t *testing.T) {
	s := mustSite(t)
	s.mustUser("alice", password)
	enrolTOTP(t, s, "alice")
	k, key := archivedKeyFor(t, s, "alice")

	b := mustBrowser(t, s)
	b.Login("alice", password)
	b.Visit("/keys")
	b.WaitFor("keys listed", `document.querySelector('#keys table') !== null`)
	b.CheckAccessible("encryption keys")
	if got := b.Text("#keys"); !strings.Contains(got, "encryption") || !strings.Contains(got, k.CertificateSerial) || !strings.Contains(got, "Active") {
		t.Fatalf("keys table %q, want the encryption key %s, active", got, k.CertificateSerial)
	}
	catchDownloads(b)
	b.Run("recover", chromedp.Click(chromedp.CSS(`#keys button[aria-label^="Recover"]`)))
	b.WaitFor("dialog open", `document.querySelector('#recover-dialog')?.open === true`)
	if f := b.Focused(); f != "recover-password" {
		t.Errorf("focus on %q, want the password field", f)
	}
	b.CheckAccessible("recover dialog")

	fillRecovery(b, "Recover-Me-2026!", "Recover-Me-2027!", password, "123456")
	if got := b.Text("#recover-password2-err"); !strings.Contains(got, "differ") {
		t.Errorf("mismatched passwords: %q", got)
	}
	fillRecovery(b, "Recover-Me-2026!", "Recover-Me-2026!", password, "000000")
	b.WaitFor("server refusal shown", `document.querySelector('#recover-error').textContent !== ''`)
	if n := uitest.Eval[int](b, `window.lanyardDownloads.length`); n != 0 {
		t.Fatalf("a wrong code gave %d files", n)
	}
	b.Shot("recover-refused")

	fillRecovery(b, "Recover-Me-2026!", "Recover-Me-2026!", password, webtest.TOTPCode(t, s.srv.URL, "alice"))
	got, _, _, err := pkcs12.DecodeChain(download(t, b, 1), "Recover-Me-2026!")
	if err != nil {
		t.Fatalf("the downloaded file: %v", err)
	}
	if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
		t.Fatal("the file holds another key")
	}
	b.WaitFor("dialog closed", `document.querySelector('#recover-dialog') === null`)
	if got := b.Text("#keys-status"); !strings.Contains(got, "was recovered") {
		t.Errorf("status %q", got)
	}
	if n := uitest.Eval[int](b, `document.querySelectorAll('nav a[aria-current=page][href="/keys"]').length`); n != 1 {
		t.Errorf("the navigation does not mark Encryption keys as current")
	}
	b.CheckConsole()
}

// TestBrowserKeyRecoveryDualControl: an operator asks for alice's key with
// a reason; an administrator who did not ask approves it with a code;
// only then does the operator download it, once. The administrator sees
// no Approve button on a request of their own, and the operator sees
// neither the decision buttons nor the key recovery key.
func TestBrowserKeyRecoveryDualControl(t *testing.T) {
	s := mustSite(t)
	s.mustUser("alice", password)
	s.mustUser("olivia", password, "operator")
	s.mustUser("adam", password, "administrator")
	_, key := archivedKeyFor(t, s, "alice")

	op := mustBrowser(t, s)
	op.Login("olivia", password)
	op.Visit("/console/key-recoveries")
	op.WaitFor("requests loaded", `document.querySelector('#kr-status').textContent === ''`)
	op.CheckAccessible("key recovery")
	if uitest.Eval[bool](op, `document.querySelector('#kra-section') !== null`) {
		t.Error("an operator sees the key recovery key section")
	}
	op.Run("list alice's keys",
		chromedp.SendKeys(chromedp.CSS("#kr-user"), "alice"),
		chromedp.Click(chromedp.CSS("#kr-user-form button[type=submit]")))
	op.WaitFor("keys listed", `document.querySelector('#kr-keys button') !== null`)
	op.Run("ask", chromedp.Click(chromedp.CSS(`#kr-keys button[aria-label^="Request the recovery"]`)))
	op.Run("no reason", chromedp.Click(chromedp.CSS("#kr-request-submit")))
	if got := op.Text("#kr-reason-err"); !strings.Contains(got, "why") {
		t.Errorf("empty reason: %q", got)
	}
	op.Run("reason", chromedp.SendKeys(chromedp.CSS("#kr-reason"), "alice left; her team needs last year's encrypted contracts"),
		chromedp.Click(chromedp.CSS("#kr-request-submit")))
	op.WaitFor("requested", `document.querySelector('#kr-status').textContent.includes('requested')`)
	if got := op.Text("#recoveries"); !strings.Contains(got, "olivia") || !strings.Contains(got, "Pending") || strings.Contains(got, "Approve") {
		t.Fatalf("operator's view of the pending request: %q", got)
	}
	op.Shot("kr-requested")

	adm := mustBrowser(t, s)
	adm.Login("adam", password)
	adm.Visit("/console/key-recoveries")
	adm.WaitFor("pending request with a decision", `document.querySelector('#recoveries button[aria-label^="Approve"]') !== null`)
	adm.WaitFor("key recovery key shown", `document.querySelector('#kra-versions table') !== null`)
	if got := adm.Text("#kra-versions"); !strings.Contains(got, "1") {
		t.Errorf("key recovery key versions %q", got)
	}
	adm.CheckAccessible("key recovery (administrator)")
	adm.Run("approve", chromedp.Click(chromedp.CSS(`#recoveries button[aria-label^="Approve"]`)),
		chromedp.SendKeys(chromedp.CSS("#kr-decide-comment"), "contracts team, ticket 4711"),
		chromedp.SendKeys(chromedp.CSS("#kr-decide-account"), password),
		chromedp.SendKeys(chromedp.CSS("#kr-decide-code"), webtest.TOTPCode(t, s.srv.URL, "adam")),
		chromedp.Click(chromedp.CSS("#kr-decide-submit")))
	adm.WaitFor("approved", `document.querySelector('#kr-status').textContent.includes('approved')`)

	// The administrator's own request gets no Approve button from them.
	adm.Run("list alice's keys", chromedp.SendKeys(chromedp.CSS("#kr-user"), "alice"), chromedp.Click(chromedp.CSS("#kr-user-form button[type=submit]")))
	adm.WaitFor("keys listed", `document.querySelector('#kr-keys button') !== null`)
	adm.Run("ask", chromedp.Click(chromedp.CSS(`#kr-keys button[aria-label^="Request the recovery"]`)),
		chromedp.SendKeys(chromedp.CSS("#kr-reason"), "audit sample"), chromedp.Click(chromedp.CSS("#kr-request-submit")))
	adm.WaitFor("requested", `document.querySelector('#kr-status').textContent.includes('requested')`)
	if uitest.Eval[bool](adm, `document.querySelector('#recoveries button[aria-label^="Approve"]') !== null`) {
		t.Error("the administrator may approve their own request")
	}

	op.Visit("/console/key-recoveries")
	op.Run("approved ones", chromedp.SetValue(chromedp.CSS("#kr-filter"), "approved"))
	uitest.Eval[bool](op, `(() => { document.querySelector('#kr-filter').dispatchEvent(new Event('change')); return true; })()`)
	op.WaitFor("download offered", `document.querySelector('#recoveries button[aria-label^="Download"]') !== null`)
	catchDownloads(op)
	op.Run("download", chromedp.Click(chromedp.CSS(`#recoveries button[aria-label^="Download"]`)))
	op.WaitFor("dialog open", `document.querySelector('#recover-dialog')?.open === true`)
	fillRecovery(op, "Handed-Over-2026!", "Handed-Over-2026!", password, webtest.TOTPCode(t, s.srv.URL, "olivia"))
	got, _, _, err := pkcs12.DecodeChain(download(t, op, 1), "Handed-Over-2026!")
	if err != nil {
		t.Fatalf("the downloaded file: %v", err)
	}
	if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) {
		t.Fatal("the file holds another key")
	}
	op.WaitFor("downloaded once", `!document.querySelector('#recoveries button[aria-label^="Download"]')`)
	op.CheckConsole()
	adm.CheckConsole()
}

// TestBrowserCardShowsRecoverableKeys: alice's issued card that holds
// none of her archived keys says on its page how many can be put on it
// (an issue or replacement without her step-up leaves them off).
func TestBrowserCardShowsRecoverableKeys(t *testing.T) {
	s := mustSite(t)
	s.mustUser("alice", password)
	k, _ := archivedKeyFor(t, s, "alice")

	b := mustBrowser(t, s)
	b.Login("alice", password)
	b.Visit("/cards/" + itoa(int(k.CardID)))
	b.WaitFor("recoverable keys shown", `document.querySelector('#card-recoverable-keys') !== null`)
	if got := b.Text("#card-recoverable-keys"); !strings.Contains(got, "1 earlier encryption key can be put on this card: Recover keys onto card") {
		t.Fatalf("card page says %q", got)
	}
	b.CheckAccessible("card page with recoverable keys")
	b.CheckConsole()
}
