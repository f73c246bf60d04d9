package web_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// queued is the docEnv's 9e request as the CA queue lists it.
func (e *docEnv) queued(token string) *apiv1.RequestView {
	e.t.Helper()
	var list []*apiv1.RequestView
	e.must(200, "GET", "/api/v1/requests?status=pending", token, nil).json(&list)
	for _, r := range list {
		if r.ID == e.request {
			return r
		}
	}
	e.t.Fatalf("request %d is not in the CA queue", e.request)
	return nil
}

// Guide: "Submit a signed certificate request form for it to be approved
// in the CA." The CA queue shows the form the request waits for; the CA
// manager's approval is refused (409, saying why) until alice uploads
// her signed form; then the queue shows the file (downloadable by the CA
// manager) and its verified signer, and the approval goes through.
func TestCAQueueSignedRequestForm(t *testing.T) {
	e := mustDocEnv(t)
	carl := e.mustUser("carl", lanyard.RoleCAManager)
	doc := e.documents(e.alice)["9e/certificate_request"]
	q := e.queued(carl)
	if f := q.SignedForm; f == nil || f.Ready || f.DocumentID != doc.ID || f.State != lanyard.DocAwaitingUpload ||
		f.Links["form"] != fmt.Sprintf("/api/v1/documents/%d/form.pdf", doc.ID) || f.Links["file"] != "" {
		t.Fatalf("the queue's signed form before the upload: %+v", q.SignedForm)
	}
	approve := fmt.Sprintf("/api/v1/requests/%d/approve", e.request)
	if r := e.do("POST", approve, carl, map[string]any{}); r.status != 409 ||
		!strings.Contains(r.problem().Detail, "signed certificate request form") {
		t.Fatalf("approving before the upload: %d %s", r.status, r.body)
	}

	form := e.form(e.alice, doc.ID)
	sig := e.aliceSigner.sign(t, form, pkcs7.OIDDigestAlgorithmSHA256)
	if r := e.upload(e.alice, doc.ID, "request.p7s", "application/pkcs7-signature", sig); r.status != 201 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	f := e.queued(carl).SignedForm
	if f == nil || !f.Ready || f.State != lanyard.DocUploaded || f.Latest == nil || f.Latest.SignerSerial != e.aliceSigner.serial ||
		!strings.HasPrefix(f.Signature, "signature verified") || f.Links["file"] == "" {
		t.Fatalf("the queue's signed form after the upload: %+v", f)
	}
	if r := e.do("GET", f.Links["file"], carl, nil); r.status != 200 || !bytes.Equal(r.body, sig) {
		t.Fatalf("the CA manager downloads the signed form: %d (%d bytes)", r.status, len(r.body))
	}
	var res apiv1.IssueResult
	e.must(200, "POST", approve, carl, map[string]any{"comment": "signed form checked"}).json(&res)
	if res.Certificate == nil {
		t.Fatalf("approval: %+v", res)
	}
}

// Documents by other means: under the policy's channel "other" an
// operator records the receipt of the signed request form, and the CA
// manager may then approve.
func TestCAQueueRequestFormReceipt(t *testing.T) {
	e := mustDocEnv(t)
	var pol lanyard.Policy
	e.must(200, "GET", "/api/v1/policies/default", e.admin, nil).json(&pol)
	pol.Settings.Documents.Channel = lanyard.DocsViaOther
	e.must(200, "PUT", "/api/v1/policies/default", e.admin, &pol)
	carl := e.mustUser("carl", lanyard.RoleCAManager)
	doc := e.documents(e.alice)["9e/certificate_request"]
	approve := fmt.Sprintf("/api/v1/requests/%d/approve", e.request)
	if r := e.do("POST", approve, carl, map[string]any{}); r.status != 409 {
		t.Fatalf("approving before the receipt: %d %s", r.status, r.body)
	}
	e.must(200, "POST", fmt.Sprintf("/api/v1/documents/%d/receipt", doc.ID), e.oper, map[string]any{"comment": "signed paper received by mail"})
	if f := e.queued(carl).SignedForm; f == nil || !f.Ready || f.Links["file"] != "" || !strings.Contains(f.Signature, "signed paper received by mail") {
		t.Fatalf("the queue's signed form after the receipt: %+v", f)
	}
	e.must(200, "POST", approve, carl, map[string]any{})
}
