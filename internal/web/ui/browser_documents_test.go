//go:build integration

package ui_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserDocuments walks the documents check in the browser: the
// owner opens "!" next to the certificate on the Contents tab, uploads a
// signed scan; a document officer rejects it with a comment in the
// console's Documents page; the owner sees the comment.
func TestBrowserDocuments(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", password)
	s.mustUser("olga", password, "document_officer")
	card := mustDocumentCard(t, s, "ann")

	ann := mustBrowser(t, s)
	ann.Login("ann", password)
	flag := openDocumentsPanel(ann, card.ID)
	if got := ann.Text("dialog[open]"); !strings.Contains(got, "Certificate form") || !strings.Contains(got, "Awaiting upload") ||
		!strings.Contains(got, "Download the certificate form (PDF)") {
		t.Errorf("the panel says %q", got)
	}
	ann.CheckAccessible("documents panel")
	ann.Shot("documents-panel")

	scan := filepath.Join(t.TempDir(), "signed-form.png")
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 16))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scan, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	ann.Run("upload the signed scan",
		chromedp.SetUploadFiles(chromedp.CSS(`dialog[open] input[type=file]`), []string{scan}),
		chromedp.Click(chromedp.CSS(`dialog[open] form button[type=submit]`)))
	ann.WaitFor("the upload is recorded", `/uploaded: a document officer will review it/.test(document.querySelector('dialog[open]')?.textContent || '')`)
	if got := ann.Text("dialog[open]"); !strings.Contains(got, "signed-form.png") || !strings.Contains(got, "Waiting for a decision") && !strings.Contains(got, "waiting for a decision") {
		t.Errorf("after the upload the panel says %q", got)
	}
	ann.Shot("documents-uploaded")

	olga := mustBrowser(t, s)
	olga.Login("olga", password)
	olga.Visit("/console/documents")
	if got := olga.Text("#documents"); !strings.Contains(got, "ann") || !strings.Contains(got, "signed-form.png") {
		t.Fatalf("the officers' queue shows %q", got)
	}
	olga.CheckAccessible("console documents")
	olga.Run("reject", chromedp.Click(chromedp.CSS(`button[aria-label^="Reject document"]`)))
	olga.WaitFor("the decision dialog", `document.querySelector('#doc-decide-dialog')?.open`)
	if got := olga.Text("#doc-decide-summary"); !strings.Contains(got, "version 1.") {
		t.Errorf("the decision dialog names the version as %q", got)
	}
	olga.Run("comment and confirm",
		chromedp.SendKeys(chromedp.CSS("#doc-decide-comment"), "page 2 is not signed"),
		chromedp.Click(chromedp.CSS("#doc-decide-submit")))
	olga.WaitFor("rejected", `/rejected/.test(document.querySelector('#doc-status')?.textContent || '')`)
	olga.Shot("documents-rejected")

	ann.Visit("/") // a real navigation: the card page is loaded afresh
	ann.Visit(fmt.Sprintf("/cards/%d#contents", card.ID))
	ann.WaitFor("the ! again", `document.querySelector(`+uitest.JSString(flag)+`)`)
	ann.Run("open the documents again", chromedp.Click(chromedp.CSS(flag)))
	ann.WaitFor("the rejection is shown", `/page 2 is not signed/.test(document.querySelector('dialog[open]')?.textContent || '')`)
	ann.Shot("documents-after-rejection")

	// The signed paper comes by mail instead: the officer records its
	// receipt in the console, and the document waits for a decision.
	uitest.Eval[bool](olga, `(() => { const s = document.querySelector('#doc-filter'); s.value = 'rejected'; s.dispatchEvent(new Event('change')); return true })()`)
	olga.WaitFor("the rejected document listed", `!!document.querySelector('button[aria-label^="Record receipt of document"]')`)
	olga.Run("record the receipt", chromedp.Click(chromedp.CSS(`button[aria-label^="Record receipt of document"]`)))
	olga.WaitFor("the receipt dialog", `document.querySelector('#doc-decide-dialog')?.open && document.querySelector('#doc-decide-submit').textContent === 'Record receipt'`)
	olga.Run("say how it came",
		chromedp.SendKeys(chromedp.CSS("#doc-decide-comment"), "signed paper received by mail"),
		chromedp.Click(chromedp.CSS("#doc-decide-submit")))
	olga.WaitFor("received", `/received/.test(document.querySelector('#doc-status')?.textContent || '')`)
	// Four eyes: olga recorded the receipt, so another officer decides.
	uitest.Eval[bool](olga, `(() => { const s = document.querySelector('#doc-filter'); s.value = 'uploaded'; s.dispatchEvent(new Event('change')); return true })()`)
	olga.WaitFor("the note instead of Approve", `document.querySelector('#documents').textContent.includes('another document officer decides') && !document.querySelector('button[aria-label^="Approve document"]')`)
	olga.Shot("documents-receipt")
	ann.CheckConsole()
	olga.CheckConsole()
}

// TestBrowserDocumentsByOtherMeans: under a policy whose documents
// channel is "other", the documents panel tells the owner to send the
// signed document as the company asks, and offers no upload.
func TestBrowserDocumentsByOtherMeans(t *testing.T) {
	s := mustSite(t)
	s.mustUser("bea", password)
	code, body := s.api("GET", "/api/v1/policies/default", nil)
	if code != 200 {
		t.Fatalf("GET policy: %d %s", code, body)
	}
	var pol lanyard.Policy
	if err := json.Unmarshal(body, &pol); err != nil {
		t.Fatal(err)
	}
	pol.Settings.Documents.Channel = lanyard.DocsViaOther
	if code, body := s.api("PUT", "/api/v1/policies/default", &pol); code != 200 {
		t.Fatalf("PUT policy: %d %s", code, body)
	}
	card := mustDocumentCard(t, s, "bea")

	bea := mustBrowser(t, s)
	bea.Login("bea", password)
	openDocumentsPanel(bea, card.ID)
	if got := bea.Text("dialog[open]"); !strings.Contains(got, "Download the certificate form (PDF)") ||
		!strings.Contains(got, "send it as your company asks") || !strings.Contains(got, "an operator records its receipt") {
		t.Errorf("the panel says %q", got)
	}
	if uitest.Eval[bool](bea, `!!document.querySelector('dialog[open] input[type=file]')`) {
		t.Error("an upload is offered under channel other")
	}
	bea.CheckAccessible("documents panel, other means")
	bea.Shot("documents-other-means")
	bea.CheckConsole()
}

// openDocumentsPanel opens, from the card's Contents tab, the documents
// panel of its Secure e-mail certificate ("!"), and returns the selector
// of that "!".
func openDocumentsPanel(b *browser, cardID int64) string {
	b.Visit(fmt.Sprintf("/cards/%d#contents", cardID))
	flag := `button[aria-label^="Documents for Secure e-mail"]`
	b.WaitFor("the ! next to the certificate", `document.querySelector(`+uitest.JSString(flag)+`)`)
	b.Run("open the documents", chromedp.Click(chromedp.CSS(flag)))
	b.WaitFor("the documents panel", `document.querySelector('dialog[open] h2')?.textContent === 'Documents for Secure e-mail'`)
	return flag
}

// mustDocumentCard gives login a pending card whose secure-email
// certificate (issued, not written) needs a certificate form.
func mustDocumentCard(t *testing.T, s *site, login string) *lanyard.Card {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// The owner's own request, with a CSR: staff asking on the owner's
	// behalf would wait for a second person's approval.
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		t.Fatal(err)
	}
	st, svc := s.srv.Store, s.srv.Service
	var owner *lanyard.User
	if err := st.View(context.Background(), func(tx lanyard.Tx) (err error) { owner, err = tx.UserByLogin(login); return }); err != nil {
		t.Fatal(err)
	}
	res, err := svc.PKI.Issue(context.Background(), &lanyard.Principal{User: owner, Roles: owner.Roles},
		pki.IssueInput{Template: "secure-email", CSR: base64.StdEncoding.EncodeToString(csr)})
	if err != nil || res.Certificate == nil {
		t.Fatalf("issue: %v %+v", err, res)
	}
	card := &lanyard.Card{Serial: "D0C5", CardType: "piv", State: lanyard.CardPending, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	err = st.Update(context.Background(), func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		card.OwnerID = u.ID
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		rec, err := tx.CertificateBySerial("builtin", res.Certificate.Serial)
		if err != nil {
			return err
		}
		rec.CardID = card.ID
		if err := tx.UpdateCertificate(rec); err != nil {
			return err
		}
		return svc.Documents.RequireDocuments(tx, card, u, "9d", "secure-email", lanyard.DocCertificateForm)
	})
	if err != nil {
		t.Fatal(err)
	}
	return card
}
