//go:build integration

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
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
	alice, _ := s.user("alice")
	m := s.startMail()
	s.requireTemplates([]string{"smartcard-logon", "document-signing"}, []string{"secure-email"})
	s.pairUpdate("alice", clock)
	c := newVCard(t)
	s.insert(c)
	const pin = "24681357"
	res := s.issueFor(alice, pin)
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

// issueFor issues the card in the stack's reader to c's user through the
// API.
func (s *stack) issueFor(c *client.Client, pin string, templates ...string) *apiv1.IssueCardResult {
	s.t.Helper()
	var res apiv1.IssueCardResult
	if _, err := c.Post(context.Background(), "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: pin, Templates: templates}, &res); err != nil {
		s.t.Fatal(err)
	}
	if res.Card == nil || res.Card.State != lanyard.CardIssued {
		s.t.Fatalf("the issue left the card %+v", res.Card)
	}
	return &res
}

// requireTemplates sets the default policy's required and optional
// templates, with the owner's Update card permission on.
func (s *stack) requireTemplates(required, optional []string) {
	s.t.Helper()
	s.setPolicy(func(set map[string]any) {
		certs := section(set, "certificates")
		certs["required_templates"], certs["optional_templates"] = required, optional
		section(section(set, "workflow"), "issued_card_operations")["update"] = true
	})
}

// TestUpdatePolicyAddAndRemove is a policy change applied by `lanyard
// card update` (the command line, as its user runs it) on the real
// stack: gus's card holds logon (9a) and document signing (9c), both
// required; the policy then requires secure e-mail (9d) instead of
// document signing. The update adds 9d and removes 9c: OpenSC lists 9a
// and 9d and no 9c, the 9d certificate is the server's written record
// and signs with gus's PIN, the logon certificate is the same one, and
// the document signing certificate is revoked, superseded (the card
// view, the CRL). A second update finds nothing to do.
func TestUpdatePolicyAddAndRemove(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	gus, tok := s.user("gus")
	s.requireTemplates([]string{"smartcard-logon", "document-signing"}, []string{})
	s.pair("gus")
	c := newVCard(t)
	s.insert(c)
	const pin = "24682468"
	res := s.issueFor(gus, pin)
	before := openToken(t, s.reader).certs()
	if len(before) != 2 || before["9a"] == nil || before["9c"] == nil {
		t.Fatalf("the issued card holds %v, want 9a and 9c", before)
	}

	s.requireTemplates([]string{"smartcard-logon", "secure-email"}, []string{})
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
	out, _ := cli.run(0, "card", "update", "--dry-run", "--card", c.serial)
	for _, re := range []string{`(?m)^9d\s+secure-email\s+add\s+new_key\s`, `(?m)^9c\s+document-signing\s+remove\s`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("card update --dry-run lacks %s:\n%s", re, out)
		}
	}
	if v := s.cardView(res.Card.ID); len(v.Operations) != 1 {
		t.Errorf("--dry-run recorded an operation: %+v", v.Operations)
	}
	out, errOut := cli.run(0, "card", "update", "--card", c.serial)
	t.Logf("lanyard card update:\n%s%s", out, errOut)
	for _, re := range []string{`(?m)^9d\s+secure-email\s+add\s+new_key\s+-\s+[0-9a-f]+\s+done`, `(?m)^9c\s+document-signing\s+remove\s+-\s+` + strings.ToLower(before["9c"].SerialNumber.Text(16)) + `\s+-\s+done`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("card update output lacks %s:\n%s", re, out)
		}
	}

	tk := openToken(t, s.reader)
	after := tk.certs()
	if len(after) != 2 || after["9a"] == nil || after["9d"] == nil {
		t.Fatalf("after the update the card holds %v, want 9a and 9d only", after)
	}
	if after["9a"].SerialNumber.Cmp(before["9a"].SerialNumber) != 0 {
		t.Error("the logon certificate, unchanged by the policy, was replaced")
	}
	v := s.cardView(res.Card.ID)
	if r := certOf(v, "9d", lanyard.CertWritten); r == nil || !sameSerial(r.Serial, after["9d"]) || r.Template != "secure-email" {
		t.Errorf("slot 9d holds %x; the server's record is %+v", after["9d"].SerialNumber, r)
	}
	if r := certOf(v, "9c", ""); r == nil || !sameSerial(r.Serial, before["9c"]) || r.Status != lanyard.CertRevoked {
		t.Errorf("the removed document signing certificate's record is %+v, want revoked", r)
	}
	tk.sign("9d", pin, after["9d"])
	s.verifyChain(after)
	if reason := s.crlReasons(after["9d"])[normSerial(before["9c"].SerialNumber.Text(16))]; reason != "Superseded" {
		t.Errorf("the CRL gives the removed certificate reason %q, want Superseded", reason)
	}
	if v.Update == nil || v.Update.Due {
		t.Errorf("after the update the card view says %+v, want not due", v.Update)
	}
	_, errOut = cli.run(1, "card", "update", "--card", c.serial)
	if !strings.Contains(errOut, "up to date") {
		t.Errorf("a second update: %s", errOut)
	}
}

// TestUpdateRefusedForDisabledOrRevokedCard is bad input on the real
// stack: hal's policy changes so that an update is due, but his card is
// disabled; Update card is refused with the clear message, at the dialog's
// options and at the update, and nothing changes: no operation, the same
// certificates on the card and in the records. Revoked, it is refused
// too.
func TestUpdateRefusedForDisabledOrRevokedCard(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	hal, _ := s.user("hal")
	s.requireTemplates([]string{"smartcard-logon"}, []string{})
	s.pair("hal")
	c := newVCard(t)
	s.insert(c)
	res := s.issueFor(hal, "13571357")
	id := itoa(res.Card.ID)
	s.requireTemplates([]string{"smartcard-logon", "secure-email"}, []string{})
	if v := s.cardView(res.Card.ID); v.Update == nil || !v.Update.Due {
		t.Fatalf("after the policy change the card view says %+v, want due", v.Update)
	}
	if _, err := hal.Post(ctx, "/api/v1/cards/"+id+"/disable", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	before := s.cardView(res.Card.ID)
	target := apiv1.UpdateTarget{WorkstationID: s.ws, Reader: s.reader}
	const disabled = "a disabled card cannot be issued, updated or unblocked; enable it first"
	for _, path := range []string{"/update/options", "/update"} {
		for who, cl := range map[string]*client.Client{"owner": hal, "administrator": s.admin} {
			if _, err := cl.Post(ctx, "/api/v1/cards/"+id+path, apiv1.UpdateCardInput{UpdateTarget: target}, nil); err == nil || !strings.Contains(err.Error(), disabled) {
				t.Errorf("%s of the disabled card by its %s: %v, want %q", path, who, err, disabled)
			}
		}
	}
	after := s.cardView(res.Card.ID)
	if len(after.Operations) != len(before.Operations) || len(after.Certificates) != len(before.Certificates) || after.State != lanyard.CardDisabled {
		t.Errorf("the refused update changed the card: %+v, was %+v", after, before)
	}
	s.agent.stop(t)
	if got := openToken(t, s.reader).certs(); len(got) != 1 || !sameSerial(certOf(before, "9a", "").Serial, got["9a"]) {
		t.Errorf("the disabled card holds %v after the refused update", got)
	}
	s.restartAgent()

	if _, err := s.admin.Post(ctx, "/api/v1/cards/"+id+"/revoke", apiv1.RevokeCardInput{Reason: "lost"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/update/options", "/update"} {
		_, err := s.admin.Post(ctx, "/api/v1/cards/"+id+path, apiv1.UpdateCardInput{UpdateTarget: target}, nil)
		t.Logf("%s of the revoked card: %v", path, err)
		if err == nil || !strings.Contains(err.Error(), "is revoked and cannot be updated") {
			t.Errorf("%s of the revoked card: %v, want \"is revoked and cannot be updated\"", path, err)
		}
	}
	if ops := updateOps(s.cardView(res.Card.ID)); len(ops) != 0 {
		t.Errorf("the refused updates recorded operations %+v", ops)
	}
}

// updateOps are the card's update operations.
func updateOps(v *apiv1.CardView) []*lanyard.Operation {
	var ops []*lanyard.Operation
	for _, op := range v.Operations {
		if op.Kind == lanyard.OpUpdate {
			ops = append(ops, op)
		}
	}
	return ops
}

// waitUpdate waits (bounded) until the card's update operations satisfy
// ok, and returns the card view.
func (s *stack) waitUpdate(cardID int64, what string, ok func([]*lanyard.Operation) bool) *apiv1.CardView {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v := s.cardView(cardID)
		if ok(updateOps(v)) {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("card %d: not %s within 60 s; operations %+v", cardID, what, v.Operations)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// audit reads the audit events of action on card id (every object when
// id is 0).
func (s *stack) audit(action string, cardID int64) []*lanyard.AuditEvent {
	s.t.Helper()
	path := "/api/v1/audit?limit=1000&action=" + action
	if cardID != 0 {
		path += "&object_type=card&object_id=" + itoa(cardID)
	}
	var evs []*lanyard.AuditEvent
	if err := s.admin.Get(context.Background(), path, &evs); err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// TestUpdateAutomaticallyOnConnect is Update card contents automatically
// when the card is connected, on the real stack: ivy's logon
// certificate enters the renewal window. With the policy's switch off, a
// card put into the reader again is left alone (no update operation).
// With it on, the next time the card is connected it is updated with
// nobody clicking: the card then holds a new logon certificate (the
// server's written record; OpenSC signs with its key), the old one is
// revoked, and the audit log records the update by the system for ivy
// (card.update.start and card.update, auto).
func TestUpdateAutomaticallyOnConnect(t *testing.T) {
	s, clock := updateStack(t)
	ivy, _ := s.user("ivy")
	s.requireTemplates([]string{"smartcard-logon"}, []string{})
	s.pairUpdate("ivy", clock)
	c := newVCard(t)
	s.insert(c)
	const pin = "11223344"
	res := s.issueFor(ivy, pin)
	old := certOf(res.Card, "9a", "")
	clock.Add(updateMove)
	if v := s.cardView(res.Card.ID); v.Update == nil || !v.Update.Due {
		t.Fatalf("in the renewal window the card view says %+v, want due", v.Update)
	}

	// Switch off (the default): connecting the card changes nothing. The
	// card is pulled again before the switch goes on, so that its
	// arrival was handled (records only, no APDU) with the switch off.
	s.pull(c)
	s.insert(c)
	s.pull(c)
	if v := s.cardView(res.Card.ID); len(updateOps(v)) != 0 || !sameSerialRec(certOf(v, "9a", lanyard.CertWritten), old) {
		t.Fatalf("with the switch off, connecting the card changed it: %+v", v)
	}

	s.setPolicy(func(set map[string]any) { section(set, "workflow")["auto_update_on_connect"] = true })
	clock.Add(time.Minute)
	switchedOn := clock.Now()
	s.insert(c)
	v := s.waitUpdate(res.Card.ID, "updated automatically", func(ops []*lanyard.Operation) bool {
		return len(ops) == 1 && (ops[0].State == lanyard.OpDone || ops[0].State == lanyard.OpFailed)
	})
	op := updateOps(v)[0]
	// The store keeps microseconds; the switch went on a minute after
	// the card's connection with it off.
	if op.State != lanyard.OpDone || op.CreatedAt.Before(switchedOn.Add(-time.Second)) {
		t.Fatalf("the automatic update is %s at %v, want done, started when the switch was on (%v)", op.State, op.CreatedAt, switchedOn)
	}
	for _, action := range []string{"card.update.start", "card.update"} {
		evs := s.audit(action, res.Card.ID)
		if len(evs) != 1 || evs[0].Actor != "system" || !strings.Contains(string(evs[0].Details), `"user":"ivy"`) {
			t.Errorf("%s events: %+v, want one by system for ivy", action, evs)
		}
	}
	if evs := s.audit("card.update.start", res.Card.ID); len(evs) == 1 && !strings.Contains(string(evs[0].Details), `"auto":true`) {
		t.Errorf("card.update.start does not say auto: %s", evs[0].Details)
	}
	newRec := certOf(v, "9a", lanyard.CertWritten)
	if newRec == nil || newRec.Serial == old.Serial {
		t.Fatalf("after the automatic update 9a's record is %+v (old %s)", newRec, old.Serial)
	}
	for _, r := range v.Certificates {
		if r.Serial == old.Serial && r.Status != lanyard.CertRevoked {
			t.Errorf("the old logon certificate is %s, want revoked", r.Status)
		}
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	got := tk.certs()
	if len(got) != 1 || !sameSerial(newRec.Serial, got["9a"]) {
		t.Fatalf("the card holds %v, want the new logon certificate %s", got, newRec.Serial)
	}
	tk.sign("9a", pin, got["9a"])
}

// sameSerialRec reports whether two records name the same certificate.
func sameSerialRec(a, b *apiv1.CardCertificate) bool {
	return a != nil && b != nil && strings.EqualFold(a.Serial, b.Serial)
}

// isPutCert9a matches the (first) PUT DATA command APDU of the slot 9a
// certificate object (5FC105; SP 800-73-4 Part 2, 3.3.2).
func isPutCert9a(cmd []byte) bool {
	return len(cmd) > 10 && cmd[1] == 0xDB && bytes.Contains(cmd[5:min(len(cmd), 12)], []byte{0x5C, 0x03, 0x5F, 0xC1, 0x05})
}

// isMoveKeyTo9a matches MOVE KEY into slot 9a (YubiKey 5.7: INS F6, P1
// the destination, P2 the source; P1 FF is DELETE KEY).
func isMoveKeyTo9a(cmd []byte) bool {
	return len(cmd) >= 4 && cmd[1] == 0xF6 && cmd[2] == 0x9A
}

// TestUpdatePulledMidwayThenContinued: an update renews the logon
// certificate with a new key, built in a spare retired slot, and the card
// is pulled in the middle — once just as the new certificate was to go
// into slot 9a, once just as the new key was to be moved there (the old
// key deleted, the new certificate in 9a). The update is interrupted and
// the old certificate is not revoked. Pulled before the certificate,
// the card back in the reader still holds the old certificate in 9a and
// OpenSC signs with its key. Continue card update finishes it: 9a holds
// the new certificate (the server's written record) and its key signs,
// the old certificate is revoked as superseded exactly once (one
// cert.supersede event, the CRL), and there is one update operation,
// done.
func TestUpdatePulledMidwayThenContinued(t *testing.T) {
	s, clock := updateStack(t)
	jo, _ := s.user("jo")
	s.requireTemplates([]string{"smartcard-logon"}, []string{})
	s.pairUpdate("jo", clock)
	for i, at := range []struct {
		what     string
		match    func([]byte) bool
		oldInUse bool // the card still holds the old pair in 9a
	}{
		{"the new certificate's PUT DATA into slot 9a", isPutCert9a, true},
		{"MOVE KEY into slot 9a", isMoveKeyTo9a, false},
	} {
		if i > 0 {
			clock.Add(-updateMove) // the next card is issued at the same time of the test
		}
		pulledMidway(t, s, jo, clock, at.what, at.match, at.oldInUse)
	}
}

// pulledMidway is one card of TestUpdatePulledMidwayThenContinued: issued,
// its update pulled at the APDU match accepts, then continued.
func pulledMidway(t *testing.T, s *stack, jo *client.Client, clock *servicetest.Clock, what string, match func([]byte) bool, oldInUse bool) {
	ctx := context.Background()
	c := newVCard(t)
	s.insert(c)
	const pin = "97531864"
	res := s.issueFor(jo, pin)
	id := itoa(res.Card.ID)
	old := openToken(t, s.reader).certs()["9a"]
	clock.Add(updateMove)

	c.holdAt(match)
	target := apiv1.UpdateTarget{WorkstationID: s.ws, Reader: s.reader}
	errc := make(chan error, 1)
	go func() {
		_, err := jo.Post(ctx, "/api/v1/cards/"+id+"/update", apiv1.UpdateCardInput{UpdateTarget: target}, nil)
		errc <- err
	}()
	c.waitHeld(t, what)
	s.pull(c)
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "Continue card update") {
			t.Fatalf("pulled at %s, the update answered %v; want unavailable, to be continued", what, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("pulled at %s, the update did not end within 60 s", what)
	}
	v := s.cardView(res.Card.ID)
	if ops := updateOps(v); len(ops) != 1 || ops[0].State != lanyard.OpInterrupted || v.Update == nil || v.Update.UnfinishedOperation == nil {
		t.Fatalf("pulled at %s, the update operations are %+v, card update %+v; want one interrupted", what, ops, v.Update)
	}
	if r := certOf(v, "9a", lanyard.CertWritten); r == nil || !sameSerial(r.Serial, old) {
		t.Errorf("pulled at %s, the written 9a record is %+v, want the old certificate, not revoked", what, r)
	}

	s.insert(c)
	tk := openToken(t, s.reader)
	if oldInUse {
		if got := tk.certs()["9a"]; got == nil || got.SerialNumber.Cmp(old.SerialNumber) != 0 {
			t.Fatalf("pulled at %s, slot 9a holds %v, want the old certificate", what, got)
		}
		tk.sign("9a", pin, old)
	}

	var done apiv1.UpdateCardResult
	if _, err := jo.Post(ctx, "/api/v1/cards/"+id+"/update/continue", target, &done); err != nil {
		t.Fatalf("Continue card update after a pull at %s: %v", what, err)
	}
	if done.State != "done" {
		t.Fatalf("Continue card update after a pull at %s: %+v", what, done)
	}
	v = s.cardView(res.Card.ID)
	if ops := updateOps(v); len(ops) != 1 || ops[0].State != lanyard.OpDone {
		t.Errorf("after Continue the update operations are %+v, want one done", ops)
	}
	got := tk.certs()
	newRec := certOf(v, "9a", lanyard.CertWritten)
	if len(got) != 1 || newRec == nil || !sameSerial(newRec.Serial, got["9a"]) || got["9a"].SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatalf("after Continue the card holds %v; the written 9a record is %+v", got, newRec)
	}
	tk.sign("9a", pin, got["9a"])
	s.verifyChain(got)
	oldHex := strings.ToLower(old.SerialNumber.Text(16))
	var superseded int
	for _, e := range s.audit("cert.supersede", 0) {
		if strings.EqualFold(e.ObjectID, oldHex) {
			superseded++
		}
	}
	if superseded != 1 {
		t.Errorf("pulled at %s, the old certificate was superseded %d times, want once", what, superseded)
	}
	if reason := s.crlReasons(got["9a"])[normSerial(oldHex)]; reason != "Superseded" {
		t.Errorf("the CRL gives the old logon certificate reason %q, want Superseded", reason)
	}
	s.pull(c)
}
