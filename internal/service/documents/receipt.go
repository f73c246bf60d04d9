package documents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RecordReceipt records that a document reached the company by other
// means (guide: "By any other means authorized in your company. For
// example, via email"; policy channel "other"): an operator or document
// officer notes its receipt instead of the owner uploading it. The
// document then waits for a document officer's decision like an upload —
// a receipt is not an approval. One transaction, one audit event; the
// document officers are told, as for an upload.
func (s *Documents) RecordReceipt(ctx context.Context, p *lanyard.Principal, id int64, note string) (*DocumentView, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleDocumentOfficer) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators and document officers record the receipt of documents")
	}
	note = strings.TrimSpace(note)
	if note == "" || len(note) > 500 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "say how the document arrived (1-500 characters), e.g. \"signed paper received by mail\"")
	}
	empty := sha256.Sum256(nil)
	up := &lanyard.DocumentUpload{DocumentID: id, FileName: note, Format: lanyard.UploadReceipt, SHA256: hex.EncodeToString(empty[:]),
		UploadedBy: p.User.ID, UploadedAt: s.rec.Clock()}
	var d *lanyard.Document
	var owner *lanyard.User
	var card *lanyard.Card
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "document.receipt", "document", strconv.FormatInt(id, 10), map[string]any{"version": up.Version, "note": note})
	}, func(tx lanyard.Tx) (err error) {
		if d, err = tx.DocumentByID(id); err != nil {
			return err
		}
		if d.UserID == p.User.ID {
			// As for a decision: nobody vouches for their own papers.
			return lanyard.Errorf(lanyard.EForbidden, "you cannot record the receipt of your own document; another operator or document officer does")
		}
		if err := uploadable(d); err != nil {
			return err
		}
		up.Version = d.Uploads + 1
		if err := tx.CreateDocumentUpload(up); err != nil {
			return err
		}
		from := d.State
		d.State, d.Uploads, d.UpdatedAt = lanyard.DocUploaded, up.Version, up.UploadedAt
		if err := tx.UpdateDocument(d, from); err != nil {
			return err
		}
		if owner, err = tx.UserByID(d.UserID); err != nil {
			return err
		}
		card, err = tx.CardByID(d.CardID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notifyOfficers(ctx, DocumentEvent{Kind: "received", User: owner, Card: card, DocKind: string(d.Kind), Template: d.Template,
		Comment: note, By: p.User.Login})
	return s.GetDocument(ctx, p, id)
}
