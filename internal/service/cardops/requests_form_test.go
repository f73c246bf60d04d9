package cardops_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// signedPDF stands for a printed, signed and scanned request form: the
// upload checks only that it is a PDF.
var signedPDF = documents.UploadInput{FileName: "request-signed.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n%%EOF\n")}

// requestDocs returns the card's certificate request forms by request id.
func (e *issueEnv) requestDocs(t *testing.T, res *cardops.IssueCardResult) map[int64]*documents.DocumentView {
	t.Helper()
	docs, err := e.svc.Documents.CardDocuments(context.Background(), e.alice, res.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]*documents.DocumentView{}
	for _, cc := range res.Card.Certificates {
		for _, d := range docs {
			if d.Kind == lanyard.DocCertificateRequest && d.Slot == cc.Slot {
				out[cc.RequestID] = d
			}
		}
	}
	if len(out) != len(res.Card.Certificates) {
		t.Fatalf("request forms %v for %d certificates", out, len(res.Card.Certificates))
	}
	return out
}

// signRequests uploads alice's signed request form of every request of
// the card issue, as the documents check "certificate request" asks.
func (e *issueEnv) signRequests(t *testing.T, res *cardops.IssueCardResult) {
	t.Helper()
	for _, d := range e.requestDocs(t, res) {
		if _, err := e.svc.Documents.UploadDocument(context.Background(), e.alice, d.ID, signedPDF); err != nil {
			t.Fatal(err)
		}
	}
}

// requestForm is what the CA queue shows of request id's signed form.
func (e *issueEnv) requestForm(t *testing.T, id int64) *documents.RequestForm {
	t.Helper()
	fs, err := e.svc.Documents.RequestForms(context.Background(), []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	return fs[id]
}

// pendingRequest issues alice's card under the documents settings docs:
// it goes pending with one CA request, whose id and signed request form
// it returns.
func (e *issueEnv) pendingRequest(t *testing.T, docs lanyard.DocumentsSettings) (*cardops.IssueCardResult, int64, *documents.DocumentView) {
	t.Helper()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents = docs })
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil || res.State != "pending" || len(res.Card.Certificates) != 1 {
		t.Fatalf("issue: %v %+v", err, res)
	}
	id := res.Card.Certificates[0].RequestID
	return res, id, e.requestDocs(t, res)[id]
}

// approveRefused checks that the CA manager's approval of request id is
// refused as a conflict whose message says want.
func (e *issueEnv) approveRefused(t *testing.T, id int64, want string) {
	t.Helper()
	if _, err := e.svc.PKI.ApproveRequest(context.Background(), e.admin, id, ""); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), want) {
		t.Fatalf("approving request %d: %v, want a conflict saying %q", id, err, want)
	}
}

// Guide: "Submit a signed certificate request form for it to be approved
// in the CA." The CA manager cannot approve a card's request before its
// owner uploaded the signed form; the queue says what it waits for, and
// after the upload shows the file and its signature status and the
// approval goes through.
func TestApproveRequestWaitsForSignedForm(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, id, doc := e.pendingRequest(t, lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaLanyard})
	f := e.requestForm(t, id)
	if f == nil || f.Ready || f.DocumentID != doc.ID || f.State != lanyard.DocAwaitingUpload || f.Links["form"] == "" || f.Links["file"] != "" {
		t.Fatalf("the queue's form before the upload: %+v", f)
	}
	e.approveRefused(t, id, "waits for the owner's signed certificate request form (document "+strconv.FormatInt(doc.ID, 10)+"): it has not been uploaded")
	if v, _ := e.svc.Cards.GetCard(ctx, e.alice, res.Card.ID); v.Certificates[0].Status != lanyard.CertPending {
		t.Fatalf("after the refused approval the line is %+v", v.Certificates[0])
	}

	e.signRequests(t, res)
	f = e.requestForm(t, id)
	if f == nil || !f.Ready || f.State != lanyard.DocUploaded || f.Latest == nil || f.Latest.FileName != "request-signed.pdf" ||
		f.Links["file"] != "/api/v1/documents/"+strconv.FormatInt(doc.ID, 10)+"/uploads/1" || !strings.Contains(f.Signature, "PDF") {
		t.Fatalf("the queue's form after the upload: %+v", f)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, "form checked"); err != nil {
		t.Fatal(err)
	}
}

// "The administrator can precheck the certificate request before it is
// sent to the CA": with the policy's precheck, an uploaded form is not
// enough; a rejected one is not either; once a document officer accepts
// a new version, the CA manager approves.
func TestApproveRequestPrecheck(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, id, doc := e.pendingRequest(t, lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaLanyard, Precheck: true})
	officer := &lanyard.Principal{User: e.admin.User, Roles: lanyard.Roles{lanyard.RoleDocumentOfficer}}
	e.signRequests(t, res)
	e.approveRefused(t, id, "the policy asks for a precheck")
	if _, err := e.svc.Documents.DecideDocument(ctx, officer, doc.ID, false, "unsigned"); err != nil {
		t.Fatal(err)
	}
	e.approveRefused(t, id, "a document officer rejected the last version")
	if f := e.requestForm(t, id); f == nil || f.Ready || !f.Precheck || f.State != lanyard.DocRejected {
		t.Fatalf("the queue's form after the rejection: %+v", f)
	}
	if _, err := e.svc.Documents.UploadDocument(ctx, e.alice, doc.ID, signedPDF); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Documents.DecideDocument(ctx, officer, doc.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	if f := e.requestForm(t, id); f == nil || !f.Ready || f.State != lanyard.DocApproved || f.Links["file"] != "/api/v1/documents/"+strconv.FormatInt(doc.ID, 10)+"/uploads/2" {
		t.Fatalf("the queue's form after the precheck: %+v", f)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, ""); err != nil {
		t.Fatal(err)
	}
}

// staff creates a staff account with roles and returns it as a caller.
func (e *issueEnv) staff(t *testing.T, login string, roles ...lanyard.Role) *lanyard.Principal {
	t.Helper()
	rs := lanyard.Roles(roles)
	u, err := e.svc.Identity.CreateUser(context.Background(), e.admin, identity.UserInput{Login: login, DisplayName: ptr(login), Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}
}

// Documents by other means (policy channel "other"): an operator records
// the signed form's receipt, and that is what the CA approval waits for.
// Whoever recorded it does not approve on their own word: another CA
// manager does.
func TestApproveRequestOtherChannelReceipt(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	_, id, doc := e.pendingRequest(t, lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaOther})
	e.approveRefused(t, id, "not been uploaded (or its receipt recorded)")
	if _, err := e.svc.Documents.RecordReceipt(ctx, e.admin, doc.ID, "signed paper received by mail"); err != nil {
		t.Fatal(err)
	}
	f := e.requestForm(t, id)
	if f == nil || !f.Ready || f.Links["file"] != "" || !strings.Contains(f.Signature, "signed paper received by mail") || f.SuppliedBy != e.admin.User.Login {
		t.Fatalf("the queue's form after the receipt: %+v", f)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, ""); !lanyard.IsCode(err, lanyard.EForbidden) || !strings.Contains(err.Error(), "you supplied the signed certificate request form") {
		t.Fatalf("approval by the one who recorded the receipt: %v", err)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.staff(t, "carol", lanyard.RoleCAManager), id, ""); err != nil {
		t.Fatal(err)
	}
}

// Staff issuing a card for a user cannot stand in for the user's
// signature: a receipt the requester recorded themselves does not let the
// request through until a document officer accepts the form.
func TestApproveRequestReceiptByRequesterNeedsOfficer(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Documents = lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaOther}
	})
	olga := e.staff(t, "olga", lanyard.RoleOperator)
	res, err := e.svc.Cards.IssueCard(ctx, olga, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: reader, User: "alice"}, UserPIN: "24681357"})
	if err != nil || res.State != "pending" {
		t.Fatalf("olga issues alice's card: %v %+v", err, res)
	}
	id := res.Card.Certificates[0].RequestID
	doc := e.requestDocs(t, res)[id]
	if _, err := e.svc.Documents.RecordReceipt(ctx, olga, doc.ID, "signed paper received"); err != nil {
		t.Fatal(err)
	}
	carol := e.staff(t, "carol", lanyard.RoleCAManager)
	if _, err := e.svc.PKI.ApproveRequest(ctx, carol, id, ""); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "supplied by its requester (olga)") {
		t.Fatalf("approval of a form only the requester vouches for: %v", err)
	}
	// Nor can the approver be the officer who accepted it: that is the
	// requester and one other person again.
	both := e.staff(t, "bea", lanyard.RoleCAManager, lanyard.RoleDocumentOfficer)
	if _, err := e.svc.Documents.DecideDocument(ctx, both, doc.ID, true, "called alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, both, id, ""); !lanyard.IsCode(err, lanyard.EForbidden) || !strings.Contains(err.Error(), "you accepted the signed certificate request form") {
		t.Fatalf("approval by the officer who accepted the requester's form: %v", err)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, carol, id, ""); err != nil {
		t.Fatal(err)
	}
}

// A card's request names its issue (CertRequest.OperationID): the signed
// form is required however many issues started since. Before, the issue
// was looked up among the newest 1000 unfinished ones, and a request
// whose issue fell outside was approved without its form.
func TestApproveRequestOldIssueStillWaitsForForm(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, id, _ := e.pendingRequest(t, lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaLanyard})
	var r *lanyard.CertRequest
	err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { r, err = tx.RequestByID(id); return })
	if err != nil || r.OperationID != res.OperationID {
		t.Fatalf("request %d: %+v %v, want operation %d", id, r, err, res.OperationID)
	}
	err = e.st.Update(ctx, func(tx lanyard.Tx) error {
		for range 1001 {
			op := &lanyard.Operation{Kind: lanyard.OpIssue, CardID: res.Card.ID, UserID: e.alice.User.ID, State: lanyard.OpPending,
				Data: []byte(`{"plan":{"slots":[]}}`), CreatedAt: time.Now(), UpdatedAt: time.Now()}
			if err := tx.CreateOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.approveRefused(t, id, "signed certificate request form")
	if f := e.requestForm(t, id); f == nil || f.Ready {
		t.Fatalf("the queue's form: %+v", f)
	}
}

// A request of a card issue that no longer waits for it (the issue was
// finished by other means) is refused, not taken for an API request.
func TestApproveRequestOfFinishedIssueRefused(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, id, _ := e.pendingRequest(t, lanyard.DocumentsSettings{Check: lanyard.DocsCARequest, Channel: lanyard.DocsViaLanyard})
	err := e.st.Update(ctx, func(tx lanyard.Tx) error {
		op, err := tx.OperationByID(res.OperationID)
		if err != nil {
			return err
		}
		prev := op.UpdatedAt
		op.State, op.UpdatedAt = lanyard.OpDone, time.Now()
		return tx.UpdateOperation(op, prev)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.approveRefused(t, id, "which no longer waits for it")
}
