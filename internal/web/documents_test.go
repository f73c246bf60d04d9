package web_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/smallstep/pkcs7"
)

// pdfText is the text a generated (uncompressed) PDF shows.
func pdfText(pdf []byte) string {
	var out []string
	for _, m := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(pdf, -1) {
		out = append(out, string(regexp.MustCompile(`\\(.)`).ReplaceAll(m[1], []byte("$1"))))
	}
	return strings.Join(out, "\n")
}

func TestDocumentForms(t *testing.T) {
	e := mustDocEnv(t)
	docs := e.documents(e.alice)
	if len(docs) != 3 {
		t.Fatalf("alice's card has documents %v, want 9d/certificate_form, 9e/certificate_request, 9e/certificate_form", keys(docs))
	}
	for key, d := range docs {
		if d.State != lanyard.DocAwaitingUpload || d.Owner != "alice" || d.CardSerial != "D0C5" || len(d.Uploads) != 0 || !contains(d.Actions, "upload") {
			t.Errorf("%s: %+v", key, d)
		}
	}
	before := e.auditCount()

	// The certificate form of the issued certificate: from the certificate.
	form := e.do("GET", fmt.Sprintf("/api/v1/cards/%d/documents/9d/certificate_form.pdf", e.card.ID), e.alice, nil)
	if form.status != 200 || form.header.Get("Content-Type") != "application/pdf" || !strings.Contains(form.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("certificate form: %d %v %s", form.status, form.header, form.body)
	}
	text := pdfText(form.body)
	for _, want := range append([]string{"Certificate form", "User alice", "alice@example.com", "Secure e-mail (secure-email)", "CN=User alice",
		"D0C5 (piv), slot 9d", "ECDSA P-256", "Document officer's signature"}, fingerprint(e.formKey)...) {
		if !strings.Contains(text, want) {
			t.Errorf("certificate form does not say %q:\n%s", want, text)
		}
	}
	// The request form of the pending request: from the request's key.
	req := e.form(e.alice, docs["9e/certificate_request"].ID)
	text = pdfText(req)
	for _, want := range append([]string{"Certificate request", "Approved signing (approved-signing)", "Approver's signature (CA)"}, fingerprint(e.requestKey)...) {
		if !strings.Contains(text, want) {
			t.Errorf("request form does not say %q:\n%s", want, text)
		}
	}
	if e.auditCount() != before+2 {
		t.Errorf("generating two forms wrote %d audit events, want 2", e.auditCount()-before)
	}
	// Kept byte for byte: the owner, staff and the card route get the same.
	for _, tok := range []string{e.alice, e.oper, e.officer} {
		if again := e.form(tok, docs["9d/certificate_form"].ID); !bytes.Equal(again, form.body) {
			t.Error("the form changed between downloads")
		}
	}
	if e.auditCount() != before+2 {
		t.Error("downloading a kept form wrote to the audit log")
	}

	// Nobody else sees them.
	for _, path := range []string{
		fmt.Sprintf("/api/v1/cards/%d/documents", e.card.ID),
		fmt.Sprintf("/api/v1/cards/%d/documents/9d/certificate_form.pdf", e.card.ID),
		fmt.Sprintf("/api/v1/documents/%d/form.pdf", docs["9d/certificate_form"].ID),
		fmt.Sprintf("/api/v1/documents/%d", docs["9d/certificate_form"].ID),
	} {
		if r := e.do("GET", path, e.bob, nil); r.status != 404 || r.problem().Code != lanyard.ENotFound {
			t.Errorf("bob GET %s: %d %s", path, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/documents", e.bob, nil); r.status != 403 {
		t.Errorf("bob lists documents: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/cards/%d/documents/9a/certificate_form.pdf", e.card.ID), e.alice, nil); r.status != 404 {
		t.Errorf("a slot without documents: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/cards/%d/documents/9d/other.pdf", e.card.ID), e.alice, nil); r.status != 404 {
		t.Errorf("an unknown kind: %d %s", r.status, r.body)
	}
}

func TestRequireDocumentsIsIdempotent(t *testing.T) {
	e := mustDocEnv(t)
	err := e.store.Update(context.Background(), func(tx lanyard.Tx) error {
		return e.svc.Documents.RequireDocuments(tx, e.card, e.aliceUser, "9d", "secure-email", lanyard.DocCertificateForm)
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []*apiv1.DocumentView
	e.must(200, "GET", fmt.Sprintf("/api/v1/documents?card=%d", e.card.ID), e.oper, nil).json(&all)
	if len(all) != 3 {
		t.Errorf("RequireDocuments again made %d documents, want 3", len(all))
	}
	err = e.store.Update(context.Background(), func(tx lanyard.Tx) error {
		return e.svc.Documents.RequireDocuments(tx, e.card, e.aliceUser, "9d", "secure-email", "other")
	})
	if !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("an unknown kind: %v", err)
	}
}

// pngScan and jpegScan are small real images.
func pngScan(t *testing.T) []byte {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	img.Set(1, 1, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegScan(t *testing.T) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDocumentUploadValidation(t *testing.T) {
	e := mustDocEnv(t)
	doc := e.documents(e.alice)["9d/certificate_form"]
	form := e.form(e.alice, doc.ID)
	pdfHead := []byte("%PDF-1.7\n")
	revoked := e.mustSigner(e.alice, "document-signing")
	e.must(200, "POST", "/api/v1/certificates/"+revoked.serial+"/revoke", e.alice, map[string]any{"reason": "key_compromise"})
	// A certificate on hold (its card disabled): CRL and OCSP say
	// certificateHold, and so does the upload check.
	held := e.mustSigner(e.alice, "document-signing")
	if err := e.store.Update(context.Background(), func(tx lanyard.Tx) error {
		c, err := tx.CertificateBySerial("builtin", held.serial)
		if err != nil {
			return err
		}
		c.HeldAt = time.Now()
		return tx.UpdateCertificate(c)
	}); err != nil {
		t.Fatal(err)
	}
	sha256 := pkcs7.OIDDigestAlgorithmSHA256

	cases := []struct {
		name, file, ctype string
		body              []byte
		status            int
		detail            string
	}{
		{"empty", "form.pdf", "application/pdf", nil, 400, "empty"},
		{"wrong type", "form.txt", "text/plain", []byte("signed"), 400, "not accepted"},
		{"no type", "form.pdf", "", form, 400, "not a media type"},
		{"HTML pretending", "form.html", "text/html", []byte("<script>"), 400, "not accepted"},
		{"PNG name, PDF bytes", "scan.png", "image/png", form, 400, "declared a PNG image but is not one"},
		{"JPEG name, PNG bytes", "scan.jpg", "image/jpeg", pngScan(t), 400, "declared a JPEG image but is not one"},
		{"PDF name, PNG bytes", "form.pdf", "application/pdf", pngScan(t), 400, "declared a PDF but is not one"},
		{"name and type disagree", "scan.png", "application/pdf", form, 400, "does not match"},
		{"damaged PNG", "scan.png", "image/png", pngScan(t)[:30], 400, "damaged"},
		{"truncated PDF", "form.pdf", "application/pdf", form[:len(form)/2], 400, "incomplete"},
		{"too large", "form.pdf", "application/pdf", append(append(pdfHead, make([]byte, 10<<20)...), "%%EOF"...), 413, "10 MiB"},
		{"not CMS", "form.p7s", "application/pkcs7-signature", []byte("not a signature"), 400, "neither DER nor PEM"},
		{"CMS garbage DER", "form.p7s", "application/pkcs7-signature", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, 400, "not a CMS"},
		{"CMS by another user", "form.p7s", "application/pkcs7-signature", e.bobSigner.sign(t, form, sha256), 400, "another person's certificate"},
		{"CMS with a revoked certificate", "form.p7s", "application/pkcs7-signature", revoked.sign(t, form, sha256), 400, "revoked"},
		{"CMS with a certificate on hold", "form.p7s", "application/pkcs7-signature", held.sign(t, form, sha256), 400, "on hold"},
		{"CMS over different bytes", "form.p7s", "application/pkcs7-signature", e.aliceSigner.sign(t, append(bytes.Clone(form), ' '), sha256), 400, "not over this document's form"},
		{"CMS with an e-mail certificate", "form.p7s", "application/pkcs7-signature", e.aliceMailCert.sign(t, form, sha256), 400, "not a document signing certificate"},
		{"CMS with SHA-1", "form.p7s", "application/pkcs7-signature", e.aliceSigner.sign(t, form, pkcs7.OIDDigestAlgorithmSHA1), 400, "SHA-256"},
	}
	before := e.auditCount()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.upload(e.alice, doc.ID, c.file, c.ctype, c.body)
			p := r.problem()
			if r.status != c.status || !strings.Contains(p.Detail, c.detail) || !strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d %q (%s), want %d with %q", r.status, p.Detail, r.header.Get("Content-Type"), c.status, c.detail)
			}
		})
	}
	// Nothing was stored, nothing audited.
	if got := e.documents(e.alice)["9d/certificate_form"]; got.State != lanyard.DocAwaitingUpload || len(got.Uploads) != 0 {
		t.Fatalf("after refused uploads the document is %s with %d uploads", got.State, len(got.Uploads))
	}
	if n := e.auditCount(); n != before {
		t.Fatalf("refused uploads wrote %d audit events", n-before)
	}
	// Bob may not upload alice's document, staff may not either.
	if r := e.upload(e.bob, doc.ID, "form.pdf", "application/pdf", form); r.status != 404 {
		t.Errorf("bob uploads: %d %s", r.status, r.body)
	}
	if r := e.upload(e.oper, doc.ID, "form.pdf", "application/pdf", form); r.status != 403 {
		t.Errorf("an operator uploads: %d %s", r.status, r.body)
	}
	// A signature needs the form downloaded first (it covers those bytes).
	req := e.documents(e.alice)["9e/certificate_form"]
	if r := e.upload(e.alice, req.ID, "form.p7s", "application/pkcs7-signature", e.aliceSigner.sign(t, form, sha256)); r.status != 409 ||
		!strings.Contains(r.problem().Detail, "download the form first") {
		t.Errorf("a signature before the form was generated: %d %s", r.status, r.body)
	}

	// A valid detached signature by alice's document signing certificate.
	r := e.upload(e.alice, doc.ID, "form.p7s", "application/pkcs7-signature", e.aliceSigner.sign(t, form, sha256))
	if r.status != 201 {
		t.Fatalf("valid CMS: %d %s", r.status, r.body)
	}
	var v apiv1.DocumentView
	r.json(&v)
	if v.State != lanyard.DocUploaded || len(v.Uploads) != 1 || v.Uploads[0].Format != lanyard.UploadCMS ||
		v.Uploads[0].SignerSerial != e.aliceSigner.serial || v.Uploads[0].Version != 1 || v.Uploads[0].UploadedByLogin != "alice" {
		t.Fatalf("after the upload: %s", r.body)
	}
	if n := e.auditCount(); n != before+1 {
		t.Errorf("one upload wrote %d audit events", n-before)
	}
}

// TestDocumentCMSFromOpenSSL signs the form with OpenSSL, an independent
// CMS implementation, detached, in DER and in PEM.
func TestDocumentCMSFromOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (scripts/test-deps.sh installs it)")
	}
	e := mustDocEnv(t)
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(e.aliceSigner.key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPath := write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.aliceSigner.cert.Raw}))
	keyPath := write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	docs := e.documents(e.alice)
	for i, outform := range []string{"DER", "PEM"} {
		doc := docs[[]string{"9d/certificate_form", "9e/certificate_request"}[i]]
		formPath := write(fmt.Sprintf("form%d.pdf", i), e.form(e.alice, doc.ID))
		sigPath := filepath.Join(dir, fmt.Sprintf("form%d.p7s", i))
		out, err := exec.Command("openssl", "cms", "-sign", "-binary", "-md", "sha256", "-in", formPath, "-signer", certPath, "-inkey", keyPath,
			"-outform", outform, "-out", sigPath).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl cms -sign: %v\n%s", err, out)
		}
		sig, _ := os.ReadFile(sigPath)
		if r := e.upload(e.alice, doc.ID, filepath.Base(sigPath), "application/pkcs7-signature", sig); r.status != 201 {
			t.Fatalf("OpenSSL %s signature: %d %s", outform, r.status, r.body)
		}
	}
}

func TestDocumentReview(t *testing.T) {
	e := mustDocEnv(t)
	doc := e.documents(e.alice)["9d/certificate_form"]
	path := fmt.Sprintf("/api/v1/documents/%d", doc.ID)
	scan := e.form(e.alice, doc.ID) // printed, signed and scanned: any real PDF will do
	if ok, err := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); ok || err != nil {
		t.Fatalf("FormApproved before any upload: %v %v", ok, err)
	}
	if r := e.upload(e.alice, doc.ID, "signed.pdf", "application/pdf", scan); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	// The document officers hear of it, with the file.
	sent := e.mail.documents()
	if len(sent) != 1 || len(sent[0].to) != 1 || sent[0].to[0] != "officer@example.com" || sent[0].ev.Kind != "uploaded" ||
		!bytes.Equal(sent[0].ev.Content, scan) || sent[0].ev.FileName != "signed.pdf" || sent[0].ev.DocKind != "certificate_form" ||
		sent[0].ev.Template != "secure-email" || sent[0].ev.User.Login != "alice" || sent[0].ev.Card.ID != e.card.ID {
		t.Fatalf("notifications after the upload: %+v", sent)
	}
	if r := e.upload(e.alice, doc.ID, "again.pdf", "application/pdf", scan); r.status != 409 {
		t.Errorf("uploading while a decision is pending: %d %s", r.status, r.body)
	}

	// The officers' queue.
	var queue []*apiv1.DocumentView
	e.must(200, "GET", "/api/v1/documents?state=uploaded", e.officer, nil).json(&queue)
	if len(queue) != 1 || queue[0].ID != doc.ID || !contains(queue[0].Actions, "decide") || queue[0].Owner != "alice" {
		t.Fatalf("queue: %+v", queue)
	}

	// Only document officers decide; a rejection says why.
	for _, tok := range []string{e.alice, e.oper} {
		if r := e.do("POST", path+"/approve", tok, map[string]any{}); r.status != 403 {
			t.Errorf("approve without the role: %d %s", r.status, r.body)
		}
	}
	if r := e.do("POST", path+"/reject", e.officer, map[string]any{"comment": " "}); r.status != 400 {
		t.Errorf("reject without a comment: %d %s", r.status, r.body)
	}
	var v apiv1.DocumentView
	e.must(200, "POST", path+"/reject", e.officer, map[string]any{"comment": "page 2 is not signed"}).json(&v)
	if v.State != lanyard.DocRejected {
		t.Fatalf("after rejection: %s", v.State)
	}
	sent = e.mail.documents()
	if len(sent) != 2 || sent[1].to[0] != "alice@example.com" || sent[1].ev.Kind != "rejected" || sent[1].ev.Comment != "page 2 is not signed" {
		t.Fatalf("rejection notification: %+v", sent[1:])
	}
	if ok, _ := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); ok {
		t.Fatal("FormApproved after a rejection")
	}

	// The owner reads the comment, signs again and uploads a scan.
	got := e.documents(e.alice)["9d/certificate_form"]
	if got.State != lanyard.DocRejected || !contains(got.Actions, "upload") || len(got.Decisions) != 1 || got.Decisions[0].Comment != "page 2 is not signed" ||
		got.Decisions[0].DecidedByLogin != "officer" {
		t.Fatalf("what alice sees after the rejection: %+v", got)
	}
	png := pngScan(t)
	if r := e.upload(e.alice, doc.ID, "scan.png", "image/png", png); r.status != 201 {
		t.Fatalf("second upload: %d %s", r.status, r.body)
	}
	if r := e.upload(e.alice, e.documents(e.alice)["9e/certificate_form"].ID, "scan.jpg", "image/jpeg", jpegScan(t)); r.status != 201 {
		t.Fatalf("a JPEG scan: %d %s", r.status, r.body)
	}

	// Every version stays downloadable, by the owner and staff only.
	r := e.do("GET", path+"/uploads/1", e.officer, nil)
	if r.status != 200 || !bytes.Equal(r.body, scan) || r.header.Get("Content-Type") != "application/pdf" ||
		!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") || !strings.Contains(r.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("version 1: %d %v", r.status, r.header)
	}
	if r := e.do("GET", path+"/uploads/2", e.alice, nil); r.status != 200 || !bytes.Equal(r.body, png) {
		t.Errorf("alice downloads version 2: %d", r.status)
	}
	if r := e.do("GET", path+"/uploads/2", e.bob, nil); r.status != 404 {
		t.Errorf("bob downloads alice's upload: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path+"/uploads/3", e.alice, nil); r.status != 404 {
		t.Errorf("a version that does not exist: %d %s", r.status, r.body)
	}

	e.must(200, "POST", path+"/approve", e.officer, nil).json(&v)
	if v.State != lanyard.DocApproved || len(v.Uploads) != 2 || len(v.Decisions) != 2 || v.Decisions[1].Decision != lanyard.DocApproved ||
		v.Decisions[1].Version != 2 || v.Decisions[0].Version != 1 || v.Uploads[1].Format != lanyard.UploadImage {
		t.Fatalf("after approval: %+v", v)
	}
	if ok, err := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); !ok || err != nil {
		t.Fatalf("FormApproved after approval: %v %v", ok, err)
	}
	if ok, _ := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9e"); ok {
		t.Fatal("FormApproved for another slot")
	}
	sent = e.mail.documents()
	if last := sent[len(sent)-1]; last.ev.Kind != "approved" || last.to[0] != "alice@example.com" {
		t.Fatalf("approval notification: %+v", last)
	}
	if r := e.do("POST", path+"/approve", e.officer, nil); r.status != 409 {
		t.Errorf("approving twice: %d %s", r.status, r.body)
	}
	if r := e.upload(e.alice, doc.ID, "late.png", "image/png", png); r.status != 409 {
		t.Errorf("uploading after approval: %d %s", r.status, r.body)
	}

	// One audit event per change, in order.
	var evs []*lanyard.AuditEvent
	e.must(200, "GET", "/api/v1/audit?object_type=document&limit=100", e.admin, nil).json(&evs)
	var actions []string
	for _, ev := range evs {
		if ev.ObjectID == fmt.Sprint(doc.ID) {
			actions = append(actions, ev.Action)
		}
	}
	want := "document.form document.upload document.reject document.upload document.approve"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit actions %v, want %s", actions, want)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Documents that travel by other means: an operator records the receipt
// (no file), a document officer then decides as for an upload; the owner
// cannot record receipts, and a receipt needs a note.
func TestDocumentReceipt(t *testing.T) {
	e := mustDocEnv(t)
	doc := e.documents(e.alice)["9d/certificate_form"]
	path := fmt.Sprintf("/api/v1/documents/%d", doc.ID)
	if r := e.do("POST", path+"/receipt", e.alice, map[string]any{"comment": "I posted it"}); r.status != 403 {
		t.Fatalf("the owner records a receipt: %d %s", r.status, r.body)
	}
	if r := e.do("POST", path+"/receipt", e.oper, map[string]any{"comment": "  "}); r.status != 400 {
		t.Fatalf("a receipt without a note: %d %s", r.status, r.body)
	}
	var before apiv1.DocumentView
	e.must(200, "GET", path, e.oper, nil).json(&before)
	if !contains(before.Actions, "receipt") {
		t.Fatalf("an operator is not offered to record the receipt: %v", before.Actions)
	}
	var mine apiv1.DocumentView
	e.must(200, "GET", path, e.alice, nil).json(&mine)
	if contains(mine.Actions, "receipt") {
		t.Fatalf("the owner is offered to record a receipt: %v", mine.Actions)
	}
	var v apiv1.DocumentView
	e.must(200, "POST", path+"/receipt", e.oper, map[string]any{"comment": "signed paper received by mail"}).json(&v)
	if contains(v.Actions, "receipt") {
		t.Fatalf("receipt still offered after it was recorded: %v", v.Actions)
	}
	if v.State != lanyard.DocUploaded {
		t.Fatalf("after the receipt: %s", v.State)
	}
	if ok, _ := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); ok {
		t.Fatal("a receipt approved the form by itself")
	}
	e.must(200, "POST", path+"/approve", e.officer, map[string]any{"comment": "checked"})
	if ok, err := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); !ok || err != nil {
		t.Fatalf("FormApproved after the officer's approval: %v %v", ok, err)
	}

	// Staff do not record the receipt of their own documents.
	other := e.documents(e.alice)["9e/certificate_form"]
	aliceOperator := &lanyard.Principal{User: e.aliceUser, Roles: lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}}
	if _, err := e.svc.Documents.RecordReceipt(context.Background(), aliceOperator, other.ID, "I brought it myself"); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("an operator recorded the receipt of their own document: %v", err)
	}
}

// Under a policy whose documents channel is "other" (guide: "by any other
// means authorized in your company"), the owner is not offered an upload
// and one is refused with what to do instead, changing nothing; an
// operator records the receipt, and the document officers are told how
// the document came and who recorded it.
func TestDocumentsSentByOtherMeans(t *testing.T) {
	e := mustDocEnv(t)
	ctx := context.Background()
	pol, err := e.svc.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	pol.Settings.Documents.Channel = lanyard.DocsViaOther
	adminP := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	if _, err := e.svc.Catalog.UpdatePolicy(ctx, adminP, "default", pol); err != nil {
		t.Fatal(err)
	}
	doc := e.documents(e.alice)["9d/certificate_form"]
	if doc.Channel != lanyard.DocsViaOther || contains(doc.Actions, "upload") {
		t.Fatalf("the owner's view under channel other: channel %q actions %v", doc.Channel, doc.Actions)
	}
	form := e.form(e.alice, doc.ID)
	before := e.auditCount()
	r := e.upload(e.alice, doc.ID, "form.pdf", "application/pdf", form)
	if p := r.problem(); r.status != 409 || !strings.Contains(p.Detail, "sent by other means") {
		t.Fatalf("an upload under channel other: %d %q", r.status, p.Detail)
	}
	if got := e.documents(e.alice)["9d/certificate_form"]; got.State != lanyard.DocAwaitingUpload || len(got.Uploads) != 0 || e.auditCount() != before {
		t.Fatalf("the refused upload changed the document: %s, %d uploads", got.State, len(got.Uploads))
	}
	sent := len(e.mail.documents())
	path := fmt.Sprintf("/api/v1/documents/%d", doc.ID)
	var v apiv1.DocumentView
	e.must(200, "POST", path+"/receipt", e.oper, map[string]any{"comment": "signed paper received by post"}).json(&v)
	if v.State != lanyard.DocUploaded {
		t.Fatalf("after the receipt: %s", v.State)
	}
	mails := e.mail.documents()[sent:]
	if len(mails) != 1 || mails[0].ev.Kind != "received" || mails[0].ev.Comment != "signed paper received by post" || mails[0].ev.By == "" ||
		mails[0].ev.User == nil || mails[0].ev.User.Login != "alice" || len(mails[0].to) == 0 {
		t.Fatalf("officers told of the receipt: %+v", mails)
	}
}

// Four eyes on documents sent by other means (issue 13, item 14): the
// document officer who recorded a receipt is not offered the decision
// and is refused it, through the API and the service alike; a second
// officer approves.
func TestDocumentReceiptRecorderCannotApprove(t *testing.T) {
	e := mustDocEnv(t)
	officer2 := e.mustUser("officer2", lanyard.RoleDocumentOfficer)
	doc := e.documents(e.alice)["9d/certificate_form"]
	path := fmt.Sprintf("/api/v1/documents/%d", doc.ID)
	var v apiv1.DocumentView
	e.must(200, "POST", path+"/receipt", e.officer, map[string]any{"comment": "signed paper received by mail"}).json(&v)
	if v.State != lanyard.DocUploaded || contains(v.Actions, "decide") {
		t.Fatalf("after their own receipt the officer sees %s, actions %v", v.State, v.Actions)
	}
	r := e.do("POST", path+"/approve", e.officer, map[string]any{"comment": "checked"})
	if p := r.problem(); r.status != 403 || !strings.Contains(p.Detail, "another document officer") {
		t.Fatalf("the recorder approves: %d %q", r.status, p.Detail)
	}
	var rec lanyard.User
	e.must(200, "GET", "/api/v1/users/officer", e.admin, nil).json(&rec)
	recorder := &lanyard.Principal{User: &rec, Roles: lanyard.Roles{lanyard.RoleUser, lanyard.RoleDocumentOfficer}}
	if _, err := e.svc.Documents.DecideDocument(context.Background(), recorder, doc.ID, true, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("the recorder approves through the service: %v", err)
	}
	if ok, _ := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); ok {
		t.Fatal("the form is approved after the refusals")
	}
	var other apiv1.DocumentView
	e.must(200, "GET", path, officer2, nil).json(&other)
	if !contains(other.Actions, "decide") {
		t.Fatalf("a second officer is not offered the decision: %v", other.Actions)
	}
	e.must(200, "POST", path+"/approve", officer2, map[string]any{"comment": "checked"})
	if ok, err := e.svc.Documents.FormApproved(context.Background(), e.card.ID, "9d"); !ok || err != nil {
		t.Fatalf("FormApproved after the second officer's approval: %v %v", ok, err)
	}
}
