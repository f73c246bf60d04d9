package documents

import (
	"context"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DecideDocument approves or rejects the uploaded version of a document
// (document officers only; the route checks the role, this the state).
// A rejection needs a comment: it tells the owner what to change before
// signing and uploading again. One transaction, one audit event; the
// owner is told by e-mail when they have an address.
func (s *Documents) DecideDocument(ctx context.Context, p *lanyard.Principal, id int64, approve bool, comment string) (*DocumentView, error) {
	if !p.Has(lanyard.RoleDocumentOfficer) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only document officers approve or reject documents")
	}
	comment = strings.TrimSpace(comment)
	if !approve && comment == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "say why the document is rejected: the owner reads the comment before uploading again")
	}
	if len(comment) > 2000 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "comment is limited to 2000 characters")
	}
	decision, action := lanyard.DocApproved, "document.approve"
	if !approve {
		decision, action = lanyard.DocRejected, "document.reject"
	}
	var d *lanyard.Document
	var owner *lanyard.User
	var card *lanyard.Card
	dec := &lanyard.DocumentDecision{DocumentID: id, Decision: decision, Comment: comment, DecidedBy: p.User.ID, DecidedAt: s.rec.Clock()}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, action, "document", strconv.FormatInt(id, 10), map[string]any{
			"card": d.CardID, "slot": d.Slot, "kind": d.Kind, "version": dec.Version, "user": owner.Login, "comment": comment})
	}, func(tx lanyard.Tx) error {
		var err error
		if d, err = tx.DocumentByID(id); err != nil {
			return err
		}
		// Held with the card, as ApproveRequest holds it while it reads
		// the signed request form: a decision and a CA approval that
		// depends on it do not pass each other.
		if err := tx.LockCard(d.CardID); err != nil {
			return err
		}
		if d, err = tx.DocumentByID(id); err != nil {
			return err
		}
		if d.UserID == p.User.ID {
			return lanyard.Errorf(lanyard.EForbidden, "another document officer decides on your own documents")
		}
		if d.State != lanyard.DocUploaded {
			return lanyard.Errorf(lanyard.EConflict, "the %s is %s: only an uploaded document can be decided", kindText(d.Kind), strings.ReplaceAll(string(d.State), "_", " "))
		}
		if err := notSupplier(tx, p, d); err != nil {
			return err
		}
		dec.Version = d.Uploads
		if err := tx.CreateDocumentDecision(dec); err != nil {
			return err
		}
		d.State, d.UpdatedAt = decision, dec.DecidedAt
		if err := tx.UpdateDocument(d, lanyard.DocUploaded); err != nil {
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
	if s.notifier != nil && owner.Email != "" {
		ev := DocumentEvent{Kind: string(decision), User: owner, Card: card, DocKind: string(d.Kind), Template: d.Template, Comment: comment}
		if err := s.notifier.Document(ctx, []string{owner.Email}, ev); err != nil {
			s.log.Error("queueing the document decision e-mail failed", "document", id, "err", err)
		}
	}
	return s.GetDocument(ctx, p, id)
}

// notSupplier refuses a decision by whoever supplied the version being
// decided: an operator or document officer who recorded its receipt
// (documents sent by other means) vouched for it once already, and four
// eyes need a second person (docs/security.md, "Approvals (four eyes)").
func notSupplier(tx lanyard.Tx, p *lanyard.Principal, d *lanyard.Document) error {
	ups, err := tx.DocumentUploads(d.ID)
	if err != nil {
		return err
	}
	if suppliedBy(ups, d.Uploads) == p.User.ID {
		return lanyard.Errorf(lanyard.EForbidden, "you recorded the receipt of this %s; another document officer approves or rejects it", kindText(d.Kind))
	}
	return nil
}

// suppliedBy is the user who uploaded version (or recorded its receipt);
// 0 when there is no such version.
func suppliedBy(ups []*lanyard.DocumentUpload, version int) int64 {
	for _, u := range ups {
		if u.Version == version {
			return u.UploadedBy
		}
	}
	return 0
}
