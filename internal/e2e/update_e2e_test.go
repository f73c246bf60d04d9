//go:build integration

package e2e

import (
	"bufio"
	"context"
	"crypto/x509"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// Update card contents and the Card Monitor on the real stack (issue 17,
// "Done when"). Time is the test's: the server's clock (service, CA,
// notifications, Card Monitor) is put updateStart before the real time
// once the agent is paired (pairing checks the agent's signed time
// against the server's clock, and the agent listener's certificate is
// issued at the start), the logon template's certificates live
// updateValidityDays, and moving
// the clock by updateMove puts them into the
// Card Monitor's default 30-day warning window with the clock an hour
// behind the real time — so that OpenSC and OpenSSL, which check validity
// against the real clock, find the old and the new certificates valid
// (docs/design of issue 17, §6). Nothing sleeps to let time pass.
const (
	day                = 24 * time.Hour
	updateStart        = 55 * day
	updateValidityDays = 60
	updateMove         = updateStart - time.Hour
)

// updateStack is a stack whose server runs on clock (pairUpdate moves it
// updateStart into the past), with the smart card logon template's
// validity updateValidityDays and the owner's Update card permission on.
func updateStack(t *testing.T) (*stack, *servicetest.Clock) {
	t.Helper()
	clock := servicetest.NewClock(time.Now())
	s := newStackWith(t, webtest.Options{Now: clock.Now})
	var tpl map[string]any
	if err := s.admin.Get(context.Background(), "/api/v1/templates/smartcard-logon", &tpl); err != nil {
		t.Fatal(err)
	}
	tpl["validity_days"] = updateValidityDays
	if _, err := s.admin.Do(context.Background(), http.MethodPut, "/api/v1/templates/smartcard-logon", tpl, nil); err != nil {
		t.Fatal(err)
	}
	s.setPolicy(func(set map[string]any) {
		section(section(set, "workflow"), "issued_card_operations")["update"] = true
	})
	return s, clock
}

// pairUpdate pairs the agent for owner at the real time, then moves the
// server's clock updateStart back.
func (s *stack) pairUpdate(owner string, clock *servicetest.Clock) {
	s.t.Helper()
	s.pair(owner)
	clock.Add(-updateStart)
}

// runMonitor runs the Card Monitor once, as its schedule would.
func (s *stack) runMonitor() {
	s.t.Helper()
	res, err := s.srv.Monitor.RunOnce(context.Background())
	if err != nil || res.Skipped {
		s.t.Fatalf("Card Monitor run: %+v %v", res, err)
	}
}

// certOf is the card's record of the certificate in slot with status
// (any status when ""), nil when there is none.
func certOf(v *apiv1.CardView, slot string, status lanyard.CertStatus) *apiv1.CardCertificate {
	for _, c := range v.Certificates {
		if c.Slot == slot && (status == "" || c.Status == status) {
			return c
		}
	}
	return nil
}

// sameSerial compares a record's hex serial with a certificate's.
func sameSerial(hex string, c *x509.Certificate) bool {
	n, ok := new(big.Int).SetString(hex, 16)
	return ok && n.Cmp(c.SerialNumber) == 0
}

// crlReasons fetches the CRL the certificate names and returns, from
// `openssl crl -text`, the reason code of each revoked serial (hex, upper
// case, no leading zeros; "" without a reason).
func (s *stack) crlReasons(cert *x509.Certificate) map[string]string {
	s.t.Helper()
	if len(cert.CRLDistributionPoints) == 0 {
		s.t.Fatal("the certificate names no CRL")
	}
	f := filepath.Join(s.t.TempDir(), "issuing.crl")
	if err := os.WriteFile(f, []byte(s.rawGet(strings.TrimPrefix(cert.CRLDistributionPoints[0], s.srv.URL))), 0o600); err != nil {
		s.t.Fatal(err)
	}
	text := runTool(s.t, "openssl", "crl", "-inform", "DER", "-in", f, "-noout", "-text")
	reasons := map[string]string{}
	var serial string
	reasonNext := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Serial Number:"):
			serial = normSerial(strings.TrimSpace(strings.TrimPrefix(line, "Serial Number:")))
			reasons[serial] = ""
		case strings.HasPrefix(line, "X509v3 CRL Reason Code:"):
			reasonNext = true
		case reasonNext:
			reasons[serial], reasonNext = line, false
		}
	}
	return reasons
}

func normSerial(hex string) string {
	hex = strings.TrimLeft(strings.ToUpper(hex), "0")
	if hex == "" {
		return "0"
	}
	return hex
}

// ocsp asks the served OCSP responder (openssl ocsp -url; one
// certificate per request, as the responder answers the first) about the
// certificate and returns openssl's output with the certificate's file
// name replaced by "cert", the response verified against the root. The
// server's clock may be behind the real one: the response's times are
// accepted within a day.
func (s *stack) ocsp(cert *x509.Certificate) string {
	s.t.Helper()
	dir := s.t.TempDir()
	root, issuing := s.caFiles(dir)
	f := filepath.Join(dir, "cert.pem")
	writePEM(s.t, f, cert.Raw)
	out := runTool(s.t, "openssl", "ocsp", "-issuer", issuing, "-CAfile", root, "-url", s.srv.URL+"/ocsp", "-validity_period", "86400", "-cert", f)
	if !strings.Contains(out, "Response verify OK") {
		s.t.Fatalf("openssl ocsp did not verify the response:\n%s", out)
	}
	return strings.ReplaceAll(out, f, "cert")
}

// waitMail delivers the outbox and waits (bounded) for a message to to
// with subject.
func (s *stack) waitMail(m *mailServer, to, subject string) *mailpittest.Message {
	s.t.Helper()
	s.deliver()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, msg := range mailpittest.Find(s.t, m.api, to) {
			if msg.Subject == subject {
				return msg
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no mail %q to %s within 15 s", subject, to)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserUpdateExpiringAfterNotice is the update's whole promise on
// the real stack (pcscd, vpcd, the emulated card, the agent, Chromium,
// mailpit, OpenSC, OpenSSL): alice's card gets a logon certificate (60
// days) and a document signing one (730 days); the Card Monitor finds
// nothing to say. The clock moves 55 days: the logon certificate is five
// days from expiry, and the next Card Monitor run mails alice
// "Certificates expiring" naming her card. In Self-Service the banner
// says the logon certificate expires; Update card renews it with a new
// key and keeps the signing one. OpenSC then finds the new logon
// certificate (the server's record, written) and signs with its key, as
// openssl verifies with the new certificate's public key; the CRL lists
// the old one as superseded, and the OCSP responder says old revoked
// (superseded), new good. The next Card Monitor run finds the card back
// to none.
func TestBrowserUpdateExpiringAfterNotice(t *testing.T) {
	s, clock := updateStack(t)
	ctx := context.Background()
	alice, _ := s.user("alice")
	m := s.startMail()
	s.setPolicy(func(set map[string]any) {
		certs := section(set, "certificates")
		certs["required_templates"] = []string{"smartcard-logon", "document-signing"}
		certs["optional_templates"] = []string{"secure-email"}
	})
	s.pairUpdate("alice", clock)
	c := newVCard(t)
	s.insert(c)
	const pin = "24681357"
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: pin}, &res); err != nil {
		t.Fatal(err)
	}
	id := itoa(res.Card.ID)
	before := openToken(t, s.reader).certs()
	if len(before) != 2 || before["9a"] == nil || before["9c"] == nil {
		t.Fatalf("the issued card holds %v, want 9a and 9c", before)
	}
	s.runMonitor()
	if v := s.cardView(res.Card.ID); v.ContentStatus != lanyard.ContentNone || v.Update == nil || v.Update.Due {
		t.Fatalf("a new card is %q, update %+v; want none, not due", v.ContentStatus, v.Update)
	}

	clock.Add(updateMove)
	s.runMonitor()
	if v := s.cardView(res.Card.ID); v.ContentStatus != lanyard.ContentManagedExpiring || v.Update == nil || !v.Update.Due {
		t.Fatalf("55 days on the card is %q, update %+v; want managed_expiring, due", v.ContentStatus, v.Update)
	}
	expiry := before["9a"].NotAfter.UTC().Format(time.DateOnly)
	wantMail(t, s.waitMail(m, "alice@example.com", "Certificates expiring: card "+c.serial), "alice@example.com",
		"Certificates expiring: card "+c.serial, "your card "+c.serial, "expires on "+expiry, "Update card")

	b := mustBrowser(t, s.srv.URL)
	b.Login("alice", password)
	b.Visit("/")
	b.WaitFor("the banner", `(document.querySelector('#update-banner-`+id+`')?.textContent ?? '').includes('certificate smartcard-logon expires on')`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`summary[aria-label="Card menu for card `+c.serial+`"]`)))
	b.Run("Update card", chromedp.Click(chromedp.CSS("#card-update-"+id)))
	b.WaitFor("the options", `(() => { const rows = [...document.querySelectorAll('#update-options tbody tr')].map((r) => r.textContent);
		return rows.some((r) => r.startsWith('9a') && r.includes('Renew') && r.includes('expires soon'))
			&& !rows.some((r) => r.startsWith('9c') && r.includes('Renew'))
			&& !document.querySelector('#update-submit').disabled; })()`)
	b.Shot("update-expiring-01-dialog")
	b.Run("update", chromedp.Click(chromedp.CSS("#update-submit")))
	b.WaitFor("updated", `(document.querySelector('#update-result')?.textContent ?? '') === 'The card is updated.'`)

	v := s.cardView(res.Card.ID)
	tk := openToken(t, s.reader)
	after := tk.certs()
	if len(after) != 2 {
		t.Fatalf("after the update the card holds %v", after)
	}
	newRec := certOf(v, "9a", lanyard.CertWritten)
	if newRec == nil || !sameSerial(newRec.Serial, after["9a"]) {
		t.Fatalf("slot 9a holds %x; the server's written 9a record is %+v", after["9a"].SerialNumber, newRec)
	}
	if after["9a"].SerialNumber.Cmp(before["9a"].SerialNumber) == 0 || string(after["9a"].RawSubjectPublicKeyInfo) == string(before["9a"].RawSubjectPublicKeyInfo) {
		t.Fatal("slot 9a still holds the old certificate or the old key")
	}
	if !after["9a"].NotAfter.After(before["9a"].NotAfter) {
		t.Errorf("the new logon certificate ends %v, not after the old one's %v", after["9a"].NotAfter, before["9a"].NotAfter)
	}
	if after["9c"].SerialNumber.Cmp(before["9c"].SerialNumber) != 0 {
		t.Error("the signing certificate, not due, was replaced")
	}
	tk.sign("9a", pin, after["9a"])
	s.verifyChain(after)
	for _, r := range v.Certificates {
		if sameSerial(r.Serial, before["9a"]) && r.Status != lanyard.CertRevoked {
			t.Errorf("the old logon certificate is %s, want revoked", r.Status)
		}
	}

	oldSerial := normSerial(before["9a"].SerialNumber.Text(16))
	reasons := s.crlReasons(after["9a"])
	if reasons[oldSerial] != "Superseded" {
		t.Errorf("the CRL gives the old logon certificate %s reason %q (listed: %v), want Superseded", oldSerial, reasons[oldSerial], reasons)
	}
	if _, listed := reasons[normSerial(after["9a"].SerialNumber.Text(16))]; listed {
		t.Error("the CRL lists the new logon certificate")
	}
	if out := s.ocsp(before["9a"]); !strings.Contains(out, "cert: revoked") || !strings.Contains(out, "Reason: superseded") {
		t.Errorf("OCSP on the old logon certificate, want revoked, superseded:\n%s", out)
	}
	if out := s.ocsp(after["9a"]); !strings.Contains(out, "cert: good") {
		t.Errorf("OCSP on the new logon certificate, want good:\n%s", out)
	}

	s.runMonitor()
	if v := s.cardView(res.Card.ID); v.ContentStatus != lanyard.ContentNone || v.Update == nil || v.Update.Due {
		t.Errorf("after the update the card is %q, update %+v; want none, not due", v.ContentStatus, v.Update)
	}
	b.CheckConsole()
}
