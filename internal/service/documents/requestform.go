package documents

import (
	"context"
	"fmt"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RequestForm is the owner's signed certificate request form that a
// card's CA request waits for when the policy's documents check asks for
// it (guide: "Submit a signed certificate request form for it to be
// approved in the CA. The administrator can precheck the certificate
// request before it is sent to the CA"). The CA queue shows it beside the
// request; ApproveRequest refuses the request until Ready.
type RequestForm struct {
	DocumentID int64
	State      lanyard.DocumentState
	// Precheck: a document officer must accept the form first.
	Precheck bool
	// Ready: the CA manager may approve the request.
	Ready bool
	// Reason says why the request still waits ("" when Ready).
	Reason string
	// Latest is the newest version supplied (upload or receipt).
	Latest *lanyard.DocumentUpload
	// Signature describes the latest version's signature as Lanyard
	// knows it: verified CMS signer, a signed PDF or scan to look at, or
	// a receipt by other means.
	Signature string
	// SuppliedBy is who uploaded the latest version or recorded its
	// receipt (login).
	SuppliedBy string
	Links      map[string]string // form: the PDF to sign; file: the latest version
}

// RequestForms returns the signed request form of each of the given CA
// requests that needs one (requests without are left out), for the CA
// queue.
func (s *Documents) RequestForms(ctx context.Context, ids []int64) (map[int64]*RequestForm, error) {
	out := map[int64]*RequestForm{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		for _, id := range ids {
			r, err := tx.RequestByID(id)
			if err != nil {
				return err
			}
			op, sl, err := s.cards.CardRequest(tx, r)
			if err != nil {
				return err
			}
			if op == nil {
				continue
			}
			f, err := requestForm(tx, id, op, sl)
			if err != nil {
				return err
			}
			if f != nil {
				out[id] = f
			}
		}
		return nil
	})
	return out, err
}

// RequestFormRequired checks, inside ApproveRequest's transaction, that a
// card's request whose issue needs the signed request form has it (and,
// with a precheck, that a document officer accepted it), and that the
// form is more than the word of the approver p or of the requester: see
// formSupplier. A request of no unfinished card issue needs no form here:
// the caller refuses a card's request whose issue is gone.
func (s *Documents) RequestFormRequired(tx lanyard.Tx, r *lanyard.CertRequest, p *lanyard.Principal) error {
	op, sl, err := s.cards.CardRequest(tx, r)
	if err != nil || op == nil {
		return err
	}
	if !sl.SignedRequest {
		return nil
	}
	// Held until the approval commits: a document officer's decision on
	// the form (DecideDocument holds the card too) cannot pass it.
	if err := tx.LockCard(op.CardID); err != nil {
		return err
	}
	f, err := requestForm(tx, r.ID, op, sl)
	if err != nil || f == nil {
		return err
	}
	if !f.Ready {
		return lanyard.Errorf(lanyard.EConflict, "%s", f.Reason)
	}
	var officer int64
	if f.State == lanyard.DocApproved {
		if officer, err = lastDecider(tx, f.DocumentID); err != nil {
			return err
		}
	}
	return formSupplier(r, op.UserID, f, officer, p)
}

// lastDecider is who made the document's latest decision (0: none).
func lastDecider(tx lanyard.Tx, docID int64) (int64, error) {
	ds, err := tx.DocumentDecisions(docID)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	return ds[len(ds)-1].DecidedBy, nil
}

// formSupplier refuses a form that only the approver or the requester
// vouches for: the gate is the owner's signature. A version the approver
// uploaded or recorded the receipt of is refused (the approver would
// check their own word), as is one the requester supplied for someone
// else's card (staff issuing for a user recording "signed paper
// received" themselves) — unless a document officer other than the
// approver accepted it (officer: who accepted the form, 0 if nobody).
func formSupplier(r *lanyard.CertRequest, ownerID int64, f *RequestForm, officer int64, p *lanyard.Principal) error {
	if f.Latest == nil {
		return nil
	}
	if f.State == lanyard.DocApproved {
		if officer == p.User.ID && f.Latest.UploadedBy != ownerID {
			return lanyard.Errorf(lanyard.EForbidden, "you accepted the signed certificate request form of request %d that %s supplied; another CA manager approves the request", r.ID, f.SuppliedBy)
		}
		return nil
	}
	by := f.Latest.UploadedBy
	switch {
	case by == p.User.ID:
		return lanyard.Errorf(lanyard.EForbidden, "you supplied the signed certificate request form of request %d; another CA manager approves it, or a document officer accepts the form first", r.ID)
	case by == r.RequestedBy && by != ownerID:
		return lanyard.Errorf(lanyard.EConflict, "the signed certificate request form of request %d was supplied by its requester (%s), not its owner; a document officer accepts it first, or the owner uploads it", r.ID, f.SuppliedBy)
	}
	return nil
}

// requestForm is the signed request form of request id from the card
// issue op's slot sl, or nil when its issue does not need one. Only a document of
// this very issue counts (same operation, slot and template), never one
// of an earlier issue of the card.
func requestForm(tx lanyard.Tx, id int64, op *lanyard.Operation, sl *issuance.SlotPlan) (*RequestForm, error) {
	if !sl.SignedRequest {
		return nil, nil
	}
	ds, err := tx.ListDocuments(lanyard.DocumentFilter{CardID: op.CardID, Slot: sl.Slot, Kind: lanyard.DocCertificateRequest, Limit: 50})
	if err != nil {
		return nil, err
	}
	var d *lanyard.Document
	for _, x := range ds {
		if x.OperationID == op.ID && x.Template == sl.Template {
			d = x
			break
		}
	}
	f := &RequestForm{Precheck: sl.Precheck, Links: map[string]string{}}
	if d == nil {
		f.Reason = fmt.Sprintf("request %d needs the owner's signed certificate request form, and the card issue has none; reject the request", id)
		return f, nil
	}
	f.DocumentID, f.State = d.ID, d.State
	base := "/api/v1/documents/" + strconv.FormatInt(d.ID, 10)
	f.Links["form"] = base + "/form.pdf"
	if d.Uploads > 0 {
		if f.Latest, err = latestUpload(tx, d.ID); err != nil {
			return nil, err
		}
		if f.Latest != nil {
			f.Signature = signatureStatus(f.Latest)
			if u, err := tx.UserByID(f.Latest.UploadedBy); err == nil {
				f.SuppliedBy = u.Login
			}
			if f.Latest.Format != lanyard.UploadReceipt {
				f.Links["file"] = base + "/uploads/" + strconv.Itoa(f.Latest.Version)
			}
		}
	}
	f.Ready, f.Reason = formReady(id, d, sl.Precheck)
	return f, nil
}

// formReady says whether the form's state lets the CA manager approve
// request id, and if not why, in words a CA manager can act on.
func formReady(id int64, d *lanyard.Document, precheck bool) (bool, string) {
	switch {
	case d.State == lanyard.DocApproved:
		return true, ""
	case d.State == lanyard.DocUploaded && !precheck:
		return true, ""
	case d.State == lanyard.DocUploaded:
		return false, fmt.Sprintf("request %d waits for a document officer to accept the owner's signed certificate request form (document %d): the policy asks for a precheck before the CA approves", id, d.ID)
	case d.State == lanyard.DocRejected:
		return false, fmt.Sprintf("request %d waits for the owner's signed certificate request form (document %d): a document officer rejected the last version, and the owner has not supplied a new one", id, d.ID)
	default:
		return false, fmt.Sprintf("request %d waits for the owner's signed certificate request form (document %d): it has not been uploaded (or its receipt recorded) yet", id, d.ID)
	}
}

// latestUpload is the document's newest version, without its content.
func latestUpload(tx lanyard.Tx, docID int64) (*lanyard.DocumentUpload, error) {
	ups, err := tx.DocumentUploads(docID)
	if err != nil || len(ups) == 0 {
		return nil, err
	}
	return ups[len(ups)-1], nil
}

// signatureStatus says what Lanyard knows of an upload's signature: a
// detached CMS signature was verified at upload (cms.go); a
// PDF or a scan carries a handwritten or PDF signature a person checks.
func signatureStatus(u *lanyard.DocumentUpload) string {
	switch u.Format {
	case lanyard.UploadCMS:
		return "signature verified: " + u.SignerSubject + " (certificate " + u.SignerSerial + ")"
	case lanyard.UploadReceipt:
		return "received by other means: " + u.FileName
	case lanyard.UploadImage:
		return "scanned image: check the handwritten signature"
	default:
		return "PDF: check the signature in the file"
	}
}
