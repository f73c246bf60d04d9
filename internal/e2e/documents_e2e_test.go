//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// The guide's "Documents check" (issue #5) end to end: each mode from
// Issue to a card OpenSC signs with, the CA's rejection with Revoke and
// clear card, a document's rejection and second upload, the e-mail each
// step sends (read from a real SMTP server), uploads that are refused,
// and mail that waits in the outbox while the SMTP server is down.

const docPIN = "35793579"

// wantAttachment checks that a message carries exactly one attachment,
// the file uploaded.
func wantAttachment(t *testing.T, m *mailServer, msg *mailpittest.Message, name, contentType string, content []byte) {
	t.Helper()
	if len(msg.Attachments) != 1 {
		t.Fatalf("%q has %d attachments, want 1: %+v", msg.Subject, len(msg.Attachments), msg.Attachments)
	}
	a := msg.Attachments[0]
	if a.FileName != name || a.ContentType != contentType {
		t.Errorf("the attachment is %s (%s), want %s (%s)", a.FileName, a.ContentType, name, contentType)
	}
	if got := mailpittest.Part(t, m.api, msg.ID, a.PartID); !bytes.Equal(got, content) {
		t.Errorf("the attached %s (%d bytes) differs from the upload (%d bytes)", name, len(got), len(content))
	}
}

// openDocuments opens the "!" panel of the certificate of template on
// the card's Contents tab.
func (b *browser) openDocuments(cardID int64, templateName string) {
	b.t.Helper()
	// A page of its own: the same URL again would only change the hash.
	b.Run("leave the page", chromedp.Navigate("about:blank"))
	b.Visit("/cards/" + itoa(cardID) + "#contents")
	flag := `button[aria-label^="Documents for ` + templateName + `"]`
	b.WaitFor("the ! next to "+templateName, `document.querySelector(`+uitest.JSString(flag)+`)`)
	b.Run("open the documents of "+templateName, chromedp.Click(chromedp.CSS(flag)))
	b.WaitFor("the documents panel", `document.querySelector('dialog[open] h2')?.textContent === `+uitest.JSString("Documents for "+templateName))
}

// uploadInPanel uploads a file in the open documents panel.
func (b *browser) uploadInPanel(file string) {
	b.t.Helper()
	b.Run("upload "+file,
		chromedp.SetUploadFiles(chromedp.CSS(`dialog[open] input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(`dialog[open] form button[type=submit]`)))
}

// cardMenu opens the card menu of a card under Your cards and chooses an
// entry.
func (b *browser) cardMenu(serial, entry string) {
	b.t.Helper()
	b.Visit("/")
	summary := `#cards summary[aria-label="Card menu for card ` + serial + `"]`
	b.WaitFor("the card under Your cards", `document.querySelector(`+uitest.JSString(summary)+`)`)
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(summary)))
	b.clickText("choose "+entry, `#cards details.menu[open] button`, entry)
}

// TestDocumentsCertificateRequest is the certificate request mode: the
// user issues the card in the browser and gets "Card issue pending" (the
// card and its certificate are pending, the user is mailed); the user
// signs the request form, the document officers get it by mail; the CA
// manager approves the request with the CLI; the user is mailed that the
// issue is approved and continues it from the card menu; OpenSC signs.
func TestDocumentsCertificateRequest(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	ann, annTok := s.user("ann")
	_, carlTok := s.user("carl", lanyard.RoleCAManager)
	s.user("olga", lanyard.RoleDocumentOfficer)
	m := s.startMail()
	s.setPolicy(func(set map[string]any) { section(set, "documents")["check"] = "certificate_request" })
	s.pair("ann")
	c := newVCard(t)
	s.insert(c)

	b := mustBrowser(t, s.srv.URL)
	b.Login("ann", password)
	b.openIssueDialog(s.reader, c.serial)
	b.Run("enter the PINs and issue",
		chromedp.SendKeys(chromedp.CSS("#user-pin"), docPIN),
		chromedp.SendKeys(chromedp.CSS("#user-pin2"), docPIN),
		chromedp.Click(chromedp.CSS(`#issue-form button[type=submit]`)))
	b.WaitFor("Card issue pending", `document.querySelector('#issue-result-title')?.textContent === 'Card issue pending'`)
	b.Shot("01-card-issue-pending")
	if got := b.Text("#issue-body"); !strings.Contains(got, "awaiting approval") || !strings.Contains(got, "Continue card issue") {
		t.Errorf("the pending result says %q", got)
	}
	card := s.cardBySerial(c.serial)
	if card.State != lanyard.CardPending {
		t.Fatalf("the card is %s, want pending", card.State)
	}
	line := s.cert(card.ID, "9a")
	if line.Status != lanyard.CertPending || line.RequestID == 0 || line.Serial != "" {
		t.Fatalf("the 9a line is %+v, want a pending request", line)
	}
	wantMail(t, s.mail(m, "ann@example.com", 1)[0], "ann@example.com", "Card issue pending: card "+c.serial,
		"Hello User ann", "your card "+c.serial+" (piv) is pending", `"Card issue pending"`)

	// Contents: the pending certificate with its "!".
	b.openDocuments(card.ID, "Smart card logon")
	if got := b.Text("dialog[open]"); !strings.Contains(got, "Certificate request") || !strings.Contains(got, "Download the certificate request (PDF)") ||
		!strings.Contains(got, "the CA manager can approve your certificate request only once it is here") || strings.Contains(got, "Certificate form") {
		t.Errorf("the documents panel says %q", got)
	}
	b.Shot("02-documents-panel-request")
	if got := b.Text("#panel-contents"); !regexp.MustCompile(`(?i)pending`).MatchString(got) {
		t.Errorf("Contents shows %q, without the pending certificate", got)
	}

	// Ann signs the request form; the document officer gets it.
	docs := s.documents(ann, card.ID)
	req := docs["9a/certificate_request"]
	if req == nil || len(docs) != 1 || req.State != lanyard.DocAwaitingUpload {
		t.Fatalf("documents %v, want the 9a certificate request awaiting upload", docs)
	}
	form := s.form(annTok, card.ID, "9a", lanyard.DocCertificateRequest)
	if !bytes.Contains(form, []byte("ann@example.com")) {
		t.Error("the certificate request form does not name the user's e-mail address")
	}
	signed := signPDF(form, "ann")
	s.mustUpload(annTok, req.ID, "request-signed.pdf", "application/pdf", signed)
	om := s.mail(m, "olga@example.com", 1)[0]
	wantMail(t, om, "olga@example.com", "Document to review: certificate request form of User ann",
		"User ann (ann) uploaded a signed certificate request form for the certificate smartcard-logon, card "+c.serial, "(request-signed.pdf)")
	wantAttachment(t, m, om, "request-signed.pdf", "application/pdf", signed)

	// The CA manager approves with the CLI.
	carl := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + carlTok}}
	out, _ := carl.run(0, "ca", "pending")
	if !regexp.MustCompile(`(?m)^` + itoa(line.RequestID) + `\s+smartcard-logon\s+User ann\s+pending\s+uploaded\s`).MatchString(out) {
		t.Errorf("ca pending:\n%s", out)
	}
	if out, _ = carl.run(0, "ca", "approve", itoa(line.RequestID), "--comment", "form checked"); !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("ca approve printed:\n%s", out)
	}
	if line = s.cert(card.ID, "9a"); line.Status != lanyard.CertApproved || line.Serial == "" {
		t.Fatalf("after the approval the 9a line is %+v, want approved", line)
	}
	wantMail(t, s.mail(m, "ann@example.com", 2)[1], "ann@example.com", "Card issue approved: card "+c.serial,
		"your card "+c.serial+" (piv) is approved (certificate smartcard-logon)", `choose "Continue card issue" in the card menu`)

	// Continue card issue from the card menu.
	b.cardMenu(c.serial, "Continue card issue")
	b.WaitFor("the Continue card issue dialog", `!!document.querySelector('#continue-user-pin')`)
	b.Run("enter the PIN and continue",
		chromedp.SendKeys(chromedp.CSS("#continue-user-pin"), docPIN),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the card issued", `(document.querySelector('dialog[open]')?.textContent || '').includes('The card is issued.')`)
	b.Shot("03-continued")

	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, card.ID, docPIN, "9a")
	// Nothing else was mailed: two to Ann, one to the officer, none to the CA manager.
	for to, n := range map[string]int{"ann@example.com": 2, "olga@example.com": 1, "carl@example.com": 0} {
		if got := mailpittest.Find(t, m.api, to); len(got) != n {
			t.Errorf("%d messages to %s, want %d", len(got), to, n)
		}
	}
}

// TestDocumentsCertificateForm is the certificate form mode with a
// rejection: the CLI issues the card (pending, its certificate valid: in
// the CA, not on the card); the user uploads a wrong file (refused,
// nothing stored), then the signed form in the "!" panel; the document
// officer, mailed the PDF, rejects it with a comment in the console; the
// user is mailed the reason, sees it, uploads again; the officer
// approves; the user is mailed; `lanyard card continue` writes the
// certificate and OpenSC signs. The history keeps both versions and both
// decisions.
func TestDocumentsCertificateForm(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	bo, boTok := s.user("bo")
	s.user("olga", lanyard.RoleDocumentOfficer)
	m := s.startMail()
	s.setPolicy(func(set map[string]any) { section(set, "documents")["check"] = "certificate_form" })
	s.pair("bo")
	c := newVCard(t)
	s.insert(c)
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + boTok}}

	out, _ := cli.run(3, "card", "issue", "--user-pin", docPIN)
	if !strings.Contains(out, "Card issue pending") || !regexp.MustCompile(`(?m)^Card \d+: piv `+c.serial+`, pending, owner bo$`).MatchString(out) {
		t.Errorf("card issue printed:\n%s", out)
	}
	card := s.cardBySerial(c.serial)
	if line := s.cert(card.ID, "9a"); line.Status != lanyard.CertValid || line.Serial == "" {
		t.Fatalf("the 9a certificate is %+v, want valid (issued in the CA, not written)", line)
	}
	wantMail(t, s.mail(m, "bo@example.com", 1)[0], "bo@example.com", "Card issue pending: card "+c.serial, "Hello User bo")
	doc := s.documents(bo, card.ID)["9a/certificate_form"]
	if doc == nil || doc.State != lanyard.DocAwaitingUpload {
		t.Fatalf("the certificate form: %+v", doc)
	}
	form := s.form(boTok, card.ID, "9a", lanyard.DocCertificateForm)

	b := mustBrowser(t, s.srv.URL)
	b.Login("bo", password)
	b.openDocuments(card.ID, "Smart card logon")
	if got := b.Text("dialog[open]"); !strings.Contains(got, "Certificate form") || !strings.Contains(got, "Download the certificate form (PDF)") {
		t.Errorf("the panel says %q", got)
	}
	b.Shot("01-documents-panel")
	// The panel's download link serves the form Lanyard keeps, byte for byte.
	href := uitest.Eval[string](b.Browser, `document.querySelector('dialog[open] a[download$=".pdf"]')?.getAttribute('href') ?? ''`)
	if href != "/api/v1/documents/"+itoa(doc.ID)+"/form.pdf" {
		t.Errorf("the form's download link is %q", href)
	} else if code, pdf := s.raw("GET", href, boTok, "", nil); code != 200 || !bytes.Equal(pdf, form) {
		t.Errorf("the download link answers %d with %d bytes; the form has %d", code, len(pdf), len(form))
	}

	// A wrong file is refused with a message; nothing is stored.
	b.uploadInPanel(writeFile(t, "notes.txt", []byte("I agree.\n")))
	b.WaitFor("the refusal", `[...document.querySelectorAll('dialog[open] [role=status]')].some(e => e.textContent.includes('not accepted'))`)
	if got := b.Text("dialog[open] section.document [role=status]"); !strings.Contains(got, "Files of type text/plain are not accepted; upload a PDF") {
		t.Errorf("the refusal says %q", got)
	}
	b.Shot("02-wrong-type-refused")
	if d := s.document(bo, doc.ID); d.State != lanyard.DocAwaitingUpload || len(d.Uploads) != 0 {
		t.Fatalf("after the refused upload the document is %s with %d uploads", d.State, len(d.Uploads))
	}

	// Version 1, in the browser.
	v1 := signPDF(form, "bo, first try")
	b.uploadInPanel(writeFile(t, "form-signed.pdf", v1))
	b.WaitFor("the upload recorded", `/uploaded: a document officer will review it/.test(document.querySelector('dialog[open]')?.textContent || '')`)
	b.Shot("03-uploaded")
	om := s.mail(m, "olga@example.com", 1)[0]
	wantMail(t, om, "olga@example.com", "Document to review: certificate form of User bo", "User bo (bo) uploaded a signed certificate form")
	wantAttachment(t, m, om, "form-signed.pdf", "application/pdf", v1)

	// The officer rejects it in the console.
	const reason = "the signature on page 1 is missing"
	o := mustBrowser(t, s.srv.URL)
	o.Login("olga", password)
	o.Visit("/console/documents")
	o.WaitFor("bo's document in the queue", `(document.querySelector('#documents')?.textContent || '').includes('form-signed.pdf')`)
	o.Run("reject", chromedp.Click(chromedp.CSS(`button[aria-label="Reject document `+itoa(doc.ID)+`"]`)))
	o.WaitFor("the decision dialog", `document.querySelector('#doc-decide-dialog')?.open`)
	if got := o.Text("#doc-decide-summary"); !strings.Contains(got, "Certificate form of bo for Smart card logon, version 1.") {
		t.Errorf("the decision dialog says %q", got)
	}
	o.Shot("04-reject-dialog")
	o.Run("comment and reject",
		chromedp.SendKeys(chromedp.CSS("#doc-decide-comment"), reason),
		chromedp.Click(chromedp.CSS("#doc-decide-submit")))
	o.WaitFor("rejected", `/rejected/.test(document.querySelector('#doc-status')?.textContent || '')`)
	wantMail(t, s.mail(m, "bo@example.com", 2)[1], "bo@example.com", "Document rejected: your certificate form",
		"your certificate form for the certificate smartcard-logon was rejected", "Reason: "+reason, "upload it again")

	// Bo sees the reason and uploads version 2.
	b.openDocuments(card.ID, "Smart card logon")
	b.WaitFor("the reason", `(document.querySelector('dialog[open]')?.textContent || '').includes(`+uitest.JSString(reason)+`)`)
	b.Shot("05-rejected-with-comment")
	v2 := signPDF(form, "bo, signed on every page")
	b.uploadInPanel(writeFile(t, "form-signed-again.pdf", v2))
	b.WaitFor("version 2 recorded", `/uploaded: a document officer will review it/.test(document.querySelector('dialog[open]')?.textContent || '')`)
	wantAttachment(t, m, s.mail(m, "olga@example.com", 2)[1], "form-signed-again.pdf", "application/pdf", v2)

	o.Visit("/console/documents")
	o.WaitFor("version 2 in the queue", `(document.querySelector('#documents')?.textContent || '').includes('form-signed-again.pdf')`)
	o.Run("approve", chromedp.Click(chromedp.CSS(`button[aria-label="Approve document `+itoa(doc.ID)+`"]`)))
	o.WaitFor("the decision dialog", `document.querySelector('#doc-decide-dialog')?.open`)
	o.Run("approve", chromedp.Click(chromedp.CSS("#doc-decide-submit")))
	o.WaitFor("approved", `/approved/.test(document.querySelector('#doc-status')?.textContent || '')`)
	o.Shot("06-approved")
	wantMail(t, s.mail(m, "bo@example.com", 3)[2], "bo@example.com", "Document approved: your certificate form",
		"your certificate form for the certificate smartcard-logon is approved")

	// The history: two versions, two decisions.
	d := s.document(bo, doc.ID)
	if d.State != lanyard.DocApproved || len(d.Uploads) != 2 || len(d.Decisions) != 2 {
		t.Fatalf("the document is %s with %d uploads and %d decisions, want approved, 2, 2", d.State, len(d.Uploads), len(d.Decisions))
	}
	for i, want := range [][]byte{v1, v2} {
		sum := sha256.Sum256(want)
		if u := d.Uploads[i]; u.Version != i+1 || u.SHA256 != hex.EncodeToString(sum[:]) || u.UploadedByLogin != "bo" {
			t.Errorf("upload %d: %+v", i, u.DocumentUpload)
		}
	}
	if x := d.Decisions[0]; x.Version != 1 || x.Decision != lanyard.DocRejected || x.Comment != reason || x.DecidedByLogin != "olga" {
		t.Errorf("decision 1: %+v", x.DocumentDecision)
	}
	if x := d.Decisions[1]; x.Version != 2 || x.Decision != lanyard.DocApproved || x.DecidedByLogin != "olga" {
		t.Errorf("decision 2: %+v", x.DocumentDecision)
	}
	b.openDocuments(card.ID, "Smart card logon")
	if got := b.Text("dialog[open]"); !strings.Contains(got, "form-signed.pdf") || !strings.Contains(got, "form-signed-again.pdf") || !strings.Contains(got, reason) {
		t.Errorf("the history in the panel: %q", got)
	}
	b.Shot("07-history")

	// Continue card issue with the CLI.
	out, _ = cli.run(0, "card", "continue", itoa(card.ID), "--user-pin", docPIN)
	if !regexp.MustCompile(`(?m)^Card \d+: piv `+c.serial+`, issued, owner bo$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\s+9a\s+smartcard-logon\s+written`).MatchString(out) {
		t.Errorf("card continue printed:\n%s", out)
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, card.ID, docPIN, "9a")
	if got := mailpittest.Find(t, m.api, "bo@example.com"); len(got) != 3 {
		t.Errorf("%d messages to bo, want 3 (pending, rejected, approved)", len(got))
	}
}

// TestDocumentsBoth is the mode with both documents, through the API:
// the CA manager approves the request first (no "approved" mail yet: the
// form is still to come, and the certificate is valid, not approved);
// uploads that are wrong in every way the issue names are refused with
// a message and store nothing (no mail either); a detached CMS signature
// made with the user's document signing certificate is accepted; the
// officer approves; Continue writes the certificate; OpenSC signs.
func TestDocumentsBoth(t *testing.T) {
	s := newStack(t)
	cy, cyTok := s.user("cy")
	dan, _ := s.user("dan")
	s.user("carl", lanyard.RoleCAManager)
	olga, _ := s.user("olga", lanyard.RoleDocumentOfficer)
	ctx := context.Background()
	// Document signing certificates for software keys: Cy's, one of Cy's
	// that is then revoked, and Dan's.
	cySigner, cyRevoked, danSigner := s.signer(cy), s.signer(cy), s.signer(dan)
	if _, err := s.admin.Post(ctx, "/api/v1/certificates/"+cyRevoked.serial+"/revoke", map[string]string{"reason": "key_compromise"}, nil); err != nil {
		t.Fatal(err)
	}
	m := s.startMail()
	s.setPolicy(func(set map[string]any) { section(set, "documents")["check"] = "both" })
	s.pair("cy")
	c := newVCard(t)
	s.insert(c)

	res := s.issuePending(cy, docPIN)
	cardID := res.Card.ID
	line := s.cert(cardID, "9a")
	if line.Status != lanyard.CertPending || line.RequestID == 0 {
		t.Fatalf("the 9a line is %+v, want a pending request", line)
	}
	docs := s.documents(cy, cardID)
	req, frm := docs["9a/certificate_request"], docs["9a/certificate_form"]
	if len(docs) != 2 || req == nil || frm == nil {
		t.Fatalf("documents %v, want the request and the form of 9a", docs)
	}
	wantMail(t, s.mail(m, "cy@example.com", 1)[0], "cy@example.com", "Card issue pending: card "+c.serial)

	// Before cy signs, the console's CA approval queue shows the request
	// waiting for the signed request form, and the approval is refused.
	cb := mustBrowser(t, s.srv.URL)
	cb.Login("carl", password)
	cb.Visit("/console/requests")
	approve := `button[aria-label="Approve request ` + itoa(line.RequestID) + `"]`
	signed := `.signed-form[data-request="` + itoa(line.RequestID) + `"]`
	cb.WaitFor("the request in the queue", `document.querySelector(`+uitest.JSString(approve)+`)`)
	if got := cb.Text(signed); !strings.Contains(got, "Awaiting upload") || !strings.Contains(got, "Form (PDF)") || !strings.Contains(got, "has not been uploaded") {
		t.Errorf("the queue's signed form before the upload: %q", got)
	}
	cb.Run("approve too early", chromedp.Click(chromedp.CSS(approve)))
	cb.WaitFor("the decision dialog", `document.querySelector('#decide-dialog')?.open`)
	cb.Run("confirm", chromedp.Click(chromedp.CSS("#decide-submit")))
	cb.WaitFor("the refusal", `(document.querySelector('#decide-error')?.textContent || '').includes('signed certificate request form')`)
	cb.Shot("01-ca-queue-refused")
	cb.Run("cancel", chromedp.Click(chromedp.CSS("#decide-form .cancel")))

	// The request: signed, uploaded, approved in the CA.
	reqPDF := signPDF(s.form(cyTok, cardID, "9a", lanyard.DocCertificateRequest), "cy")
	s.mustUpload(cyTok, req.ID, "request.pdf", "application/pdf", reqPDF)
	wantAttachment(t, m, s.mail(m, "olga@example.com", 1)[0], "request.pdf", "application/pdf", reqPDF)
	// The CA manager approves in the console's CA approval queue, the
	// signed form beside the request.
	cb.Visit("/console/requests")
	cb.WaitFor("the signed form in the queue", `document.querySelector(`+uitest.JSString(signed+` a[href="/api/v1/documents/`+itoa(req.ID)+`/uploads/1"]`)+`)`)
	if got := cb.Text(signed); !strings.Contains(got, "Uploaded") || !strings.Contains(got, "Signed form: request.pdf") || !strings.Contains(got, "PDF: check the signature") {
		t.Errorf("the queue's signed form after the upload: %q", got)
	}
	if got := cb.Text("#requests"); !strings.Contains(got, "cy") || !strings.Contains(got, "smartcard-logon") {
		t.Errorf("the CA approval queue shows %q", got)
	}
	cb.CheckAccessible("CA approval queue")
	cb.Shot("02-ca-queue")
	cb.Run("approve", chromedp.Click(chromedp.CSS(approve)))
	cb.WaitFor("the decision dialog", `document.querySelector('#decide-dialog')?.open`)
	cb.Run("confirm", chromedp.SendKeys(chromedp.CSS("#decide-comment"), "request form checked"), chromedp.Click(chromedp.CSS("#decide-submit")))
	cb.WaitFor("approved", `(document.querySelector('#req-status')?.textContent || '').includes('approved: the certificate is issued')`)
	cb.Shot("03-ca-approved")
	if line = s.cert(cardID, "9a"); line.Status != lanyard.CertValid || line.Serial == "" {
		t.Fatalf("after the CA's approval the 9a line is %+v, want valid (the form is still to be approved)", line)
	}
	if v := s.cardView(cardID); v.State != lanyard.CardPending {
		t.Errorf("the card is %s, want pending", v.State)
	}

	// Wrong uploads of the form.
	bad := func(name, contentType string, body []byte, wantCode int, wantMsg string) {
		t.Helper()
		queued := len(s.outbox(""))
		code, b := s.upload(cyTok, frm.ID, name, contentType, body)
		if code != wantCode || !strings.Contains(problem(b), wantMsg) {
			t.Errorf("uploading %s (%s): %d %s, want %d %q", name, contentType, code, problem(b), wantCode, wantMsg)
		} else {
			t.Logf("%s refused: %s", name, problem(b))
		}
		if d := s.document(cy, frm.ID); d.State != lanyard.DocAwaitingUpload || len(d.Uploads) != 0 {
			t.Errorf("after refusing %s the form is %s with %d uploads", name, d.State, len(d.Uploads))
		}
		if n := len(s.outbox("")); n != queued {
			t.Errorf("refusing %s queued %d messages", name, n-queued)
		}
	}
	// A signature needs the form it covers: download it first.
	bad("form.p7s", "application/pkcs7-signature", cySigner.sign(t, []byte("%PDF-1.4\n%%EOF\n")), 409, "download the form first")
	form := s.form(cyTok, cardID, "9a", lanyard.DocCertificateForm)
	bad("form.txt", "text/plain", []byte("signed\n"), 400, "files of type text/plain are not accepted")
	bad("form.pdf", "application/pdf", []byte("GIF89a not a pdf"), 400, "declared a PDF but is not one")
	bad("form.pdf", "application/pdf", append(append([]byte("%PDF-1.4\n"), make([]byte, documents.MaxDocumentSize)...), "%%EOF\n"...), 413, "10 MiB")
	bad("form.p7s", "application/pkcs7-signature", danSigner.sign(t, form), 400, "signed with another person's certificate")
	bad("form.p7s", "application/pkcs7-signature", cyRevoked.sign(t, form), 400, "is revoked")
	bad("form.p7s", "application/pkcs7-signature", cySigner.sign(t, reqPDF), 400, "not over this document's form")

	// Cy's own signature over the form.
	sig := cySigner.sign(t, form)
	s.mustUpload(cyTok, frm.ID, "form.p7s", "application/pkcs7-signature", sig)
	d := s.document(cy, frm.ID)
	if d.State != lanyard.DocUploaded || len(d.Uploads) != 1 || d.Uploads[0].Format != lanyard.UploadCMS || d.Uploads[0].SignerSerial != cySigner.serial {
		t.Fatalf("after the signature the form is %s, uploads %+v", d.State, d.Uploads)
	}
	om := s.mail(m, "olga@example.com", 2)[1]
	wantMail(t, om, "olga@example.com", "Document to review: certificate form of User cy", "(form.p7s)")
	wantAttachment(t, m, om, "form.p7s", "application/pkcs7-signature", sig)
	var queue []*apiv1.DocumentView
	if err := olga.Get(ctx, "/api/v1/documents?state=uploaded", &queue); err != nil {
		t.Fatal(err)
	}
	ids := map[int64]bool{}
	for _, q := range queue {
		ids[q.ID] = true
	}
	if !ids[frm.ID] || !ids[req.ID] {
		t.Errorf("the officers' queue %v lacks the request %d or the form %d", ids, req.ID, frm.ID)
	}
	decide(t, olga, "/api/v1/documents/"+itoa(frm.ID)+"/approve", "signature verified", nil)
	wantMail(t, s.mail(m, "cy@example.com", 2)[1], "cy@example.com", "Document approved: your certificate form",
		"your certificate form for the certificate smartcard-logon is approved", "Comment: signature verified")

	var done apiv1.IssueCardResult
	if _, err := cy.Post(ctx, "/api/v1/cards/"+itoa(cardID)+"/continue", apiv1.ContinueInput{CardTarget: s.target(), UserPIN: docPIN}, &done); err != nil {
		t.Fatalf("Continue card issue: %v", err)
	}
	if done.State != "issued" {
		t.Fatalf("Continue card issue ended %s", done.State)
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, cardID, docPIN, "9a")
	if got := mailpittest.Find(t, m.api, "cy@example.com"); len(got) != 2 {
		t.Errorf("%d messages to cy, want 2 (pending, document approved)", len(got))
	}
}

// TestDocumentsCARejectedRevokeClear: of a card issue with two
// certificates needing CA approval, the CA manager approves one and
// rejects the other with the CLI while the SMTP server is down: the
// "rejected" mail waits in the outbox (queued, with the error) and
// arrives once the server is back. The user chooses Revoke and clear card
// in the card menu: the approved certificate is revoked, the card is
// clean; a second issue (documents check off) writes the card and OpenSC
// signs.
func TestDocumentsCARejectedRevokeClear(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	dee, deeTok := s.user("dee")
	_, carlTok := s.user("carl", lanyard.RoleCAManager)
	m := s.startMail()
	s.setPolicy(func(set map[string]any) { section(set, "documents")["check"] = "certificate_request" })
	s.pair("dee")
	c := newVCard(t)
	s.insert(c)

	res := s.issuePending(dee, docPIN, "secure-email")
	cardID := res.Card.ID
	logon, mail := s.cert(cardID, "9a"), s.cert(cardID, "9d")
	if logon.Status != lanyard.CertPending || mail.Status != lanyard.CertPending {
		t.Fatalf("lines %+v %+v, want two pending requests", logon, mail)
	}
	s.mail(m, "dee@example.com", 1)

	carl := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + carlTok}}
	// Guide: "Submit a signed certificate request form for it to be
	// approved in the CA": without dee's signed form the CA manager's
	// approval is refused, and says why; with it, it goes through.
	if out, _ := carl.run(0, "ca", "pending"); !regexp.MustCompile(`(?m)^` + itoa(mail.RequestID) + `\s+secure-email\s+.*pending\s+awaiting_upload \(waiting\)\s`).MatchString(out) {
		t.Errorf("ca pending before the signed form:\n%s", out)
	}
	if _, errOut := carl.run(1, "ca", "approve", itoa(mail.RequestID)); !strings.Contains(errOut, "signed certificate request form") {
		t.Errorf("ca approve before the signed form: %s", errOut)
	}
	if mail = s.cert(cardID, "9d"); mail.Status != lanyard.CertPending {
		t.Fatalf("after the refused approval the 9d line is %+v", mail)
	}
	reqDoc := s.documents(dee, cardID)["9d/certificate_request"]
	if reqDoc == nil {
		t.Fatal("no certificate request form for 9d")
	}
	s.mustUpload(deeTok, reqDoc.ID, "request.pdf", "application/pdf", signPDF(s.form(deeTok, cardID, "9d", lanyard.DocCertificateRequest), "dee"))
	carl.run(0, "ca", "approve", itoa(mail.RequestID))
	if mail = s.cert(cardID, "9d"); mail.Status != lanyard.CertApproved || mail.Serial == "" {
		t.Fatalf("the approved 9d line is %+v", mail)
	}

	// The SMTP server goes down; the rejection's mail waits.
	m.stop()
	const comment = "identity not confirmed"
	if out, _ := carl.run(0, "ca", "reject", itoa(logon.RequestID), "--comment", comment); !strings.Contains(out, "rejected") {
		t.Errorf("ca reject printed %q", out)
	}
	s.deliver()
	var waiting *lanyard.MailMessage
	for _, msg := range s.outbox("queued") {
		if msg.Kind == "card_issue_rejected" {
			waiting = msg
		}
	}
	if waiting == nil || waiting.Attempts != 1 || waiting.LastError == "" || len(waiting.To) != 1 || waiting.To[0] != "dee@example.com" {
		t.Fatalf("the rejection's mail in the outbox: %+v (outbox %+v)", waiting, s.outbox(""))
	}
	t.Logf("while the SMTP server is down: %s, attempt %d, %s", waiting.State, waiting.Attempts, waiting.LastError)
	m.restart()
	deadline := time.Now().Add(10 * time.Second)
	for len(mailpittest.Find(t, m.api, "dee@example.com")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the waiting mail did not arrive within 10 s of the server's return; outbox %+v", s.outbox(""))
		}
		time.Sleep(50 * time.Millisecond) // the test server's backoff is 50–100 ms
		s.deliver()
	}
	wantMail(t, s.mail(m, "dee@example.com", 1)[0], "dee@example.com", "Card issue rejected: card "+c.serial,
		"was rejected (certificate smartcard-logon)", "Comment: "+comment, `choose "Revoke and clear card" in the card menu`)
	for _, msg := range s.outbox("") {
		if msg.ID == waiting.ID && (msg.State != lanyard.MailSent || msg.Attempts != 2) {
			t.Errorf("the delivered message is %s after %d attempts", msg.State, msg.Attempts)
		}
	}
	if logon = s.cert(cardID, "9a"); logon.Status != lanyard.CertRejected {
		t.Errorf("the rejected 9a line is %+v", logon)
	}
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + deeTok}}
	out, _ := cli.run(0, "card", "show", itoa(cardID))
	for _, re := range []string{`(?m)^Card \d+: piv ` + c.serial + `, pending, owner dee$`, `(?m)^\s+9a\s+smartcard-logon\s+rejected`, `(?m)^\s+9d\s+secure-email\s+approved`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("card show lacks %s:\n%s", re, out)
		}
	}

	// Revoke and clear card from the card menu.
	b := mustBrowser(t, s.srv.URL)
	b.Login("dee", password)
	b.Visit("/cards/" + itoa(cardID) + "#contents")
	b.Shot("01-contents-rejected")
	if got := b.Text("#panel-contents"); !regexp.MustCompile(`(?i)rejected`).MatchString(got) {
		t.Errorf("Contents shows %q, without the rejected request", got)
	}
	// Continue card issue cannot finish now, and says what to do.
	b.cardMenu(c.serial, "Continue card issue")
	b.WaitFor("the Continue card issue dialog", `!!document.querySelector('#continue-user-pin')`)
	b.Run("try to continue",
		chromedp.SendKeys(chromedp.CSS("#continue-user-pin"), docPIN),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the refusal", `(document.querySelector('dialog[open] [role=status]')?.textContent || '').includes('could not be continued')`)
	if got := b.Text("dialog[open] [role=status]"); !strings.Contains(got, "rejected") || !strings.Contains(got, comment) || !strings.Contains(got, "revoke and clear the card") {
		t.Errorf("continuing after the rejection says %q", got)
	}
	b.Shot("01b-continue-refused")
	b.cardMenu(c.serial, "Revoke and clear card")
	b.WaitFor("the Revoke and clear card dialog", `!!document.querySelector('#clear-admin-pin')`)
	b.Shot("02-clear-dialog")
	b.Run("revoke and clear", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("revoked and cleared", `(document.querySelector('dialog[open]')?.textContent || '').includes('The card is revoked and cleared.')`)
	b.Shot("03-cleared")
	v := s.cardView(cardID)
	if v.State != lanyard.CardClean || v.OwnerID != 0 {
		t.Errorf("after Revoke and clear card the card is %s, owner %d", v.State, v.OwnerID)
	}
	var rec apiv1.IssueResult
	if err := s.admin.Get(context.Background(), "/api/v1/certificates/"+mail.Serial, &rec); err != nil || rec.Certificate == nil || rec.Certificate.Status != lanyard.CertRevoked {
		t.Errorf("the approved 9d certificate after Revoke and clear card: %+v %v", rec.Certificate, err)
	}

	// A second issue, the documents check off.
	s.setPolicy(func(set map[string]any) { section(set, "documents")["check"] = "none" })
	var again apiv1.IssueCardResult
	if _, err := dee.Post(context.Background(), "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: docPIN}, &again); err != nil {
		t.Fatalf("the second issue: %v", err)
	}
	if again.State != "issued" || again.Card.ID != cardID {
		t.Fatalf("the second issue ended %s for card %d", again.State, again.Card.ID)
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	certs := tk.certs()
	if len(certs) != 1 || certs["9a"] == nil {
		t.Fatalf("after the second issue the card holds %v, want the 9a certificate only", certs)
	}
	// The card's record keeps the revoked certificate of the first issue.
	v = s.cardView(cardID)
	var lines []string
	for _, l := range v.Certificates {
		lines = append(lines, l.Slot+" "+string(l.Status))
		if l.Status == lanyard.CertWritten && !strings.EqualFold(l.Serial, certs["9a"].SerialNumber.Text(16)) {
			t.Errorf("the server records %s as written; the card holds %x", l.Serial, certs["9a"].SerialNumber)
		}
	}
	slices.Sort(lines)
	if !slices.Equal(lines, []string{"9a written", "9d revoked"}) {
		t.Errorf("after the second issue the card's certificates are %v, want 9a written and 9d revoked", lines)
	}
	s.verifyChain(certs)
	tk.sign("9a", docPIN, certs["9a"])
}

// TestDocumentsRandomPIN: a pending issue under a policy that sets a
// random user PIN, shows it and mails it to the user. The PIN reaches
// the card at the first stage, so it is shown and mailed then; Continue
// card issue (no PIN entered) writes the certificate and neither shows
// nor mails another PIN: OpenSC signs with the one the user got.
func TestDocumentsRandomPIN(t *testing.T) {
	s := newStack(t)
	eva, evaTok := s.user("eva")
	olga, _ := s.user("olga", lanyard.RoleDocumentOfficer)
	m := s.startMail()
	s.setPolicy(func(set map[string]any) {
		section(set, "documents")["check"] = "certificate_form"
		iss := section(set, "issuance")
		iss["random_user_pin"] = true
		rp := section(iss, "random_pin")
		rp["show_to_user"], rp["mail_to"] = true, "user"
	})
	s.pair("eva")
	c := newVCard(t)
	s.insert(c)
	ctx := context.Background()

	var res apiv1.IssueCardResult
	if _, err := eva.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target()}, &res); err != nil {
		t.Fatal(err)
	}
	pin := res.RandomPIN
	if res.State != "pending" || !regexp.MustCompile(`^\d{8}$`).MatchString(pin) || len(res.PINMailedTo) != 1 {
		t.Fatalf("the pending issue: state %s, PIN %q, mailed to %v (%s)", res.State, pin, res.PINMailedTo, res.PINMailNote)
	}
	msgs := s.mail(m, "eva@example.com", 2)
	wantMail(t, msgs[0], "eva@example.com", "Card issue pending: card "+c.serial)
	wantMail(t, msgs[1], "eva@example.com", "User PIN of card "+c.serial, pin)
	if strings.Contains(msgs[1].Subject, pin) {
		t.Error("the PIN is in the subject")
	}

	frm := s.documents(eva, res.Card.ID)["9a/certificate_form"]
	s.mustUpload(evaTok, frm.ID, "form.pdf", "application/pdf", signPDF(s.form(evaTok, res.Card.ID, "9a", lanyard.DocCertificateForm), "eva"))
	decide(t, olga, "/api/v1/documents/"+itoa(frm.ID)+"/approve", "", nil)
	s.mail(m, "eva@example.com", 3)

	var done apiv1.IssueCardResult
	if _, err := eva.Post(ctx, "/api/v1/cards/"+itoa(res.Card.ID)+"/continue", apiv1.ContinueInput{CardTarget: s.target()}, &done); err != nil {
		t.Fatalf("Continue card issue: %v", err)
	}
	if done.State != "issued" {
		t.Fatalf("Continue card issue ended %s", done.State)
	}
	if done.RandomPIN != "" || len(done.PINMailedTo) != 0 {
		t.Errorf("Continue card issue shows PIN %q and mails it to %v, though the card's PIN was set at the first stage (to %s)", done.RandomPIN, done.PINMailedTo, pin)
	}
	s.deliver()
	if got := mailpittest.Find(t, m.api, "eva@example.com"); len(got) != 3 {
		t.Errorf("%d messages to eva after Continue card issue, want 3 (pending, PIN, document approved)", len(got))
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, res.Card.ID, pin, "9a")
}
