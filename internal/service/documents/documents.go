// Package documents is the capability of the documents check (guide:
// "Documents check"; issue #5). A card's certificate may need a signed
// certificate request form (the CA manager approves the request in the
// CA) and/or a signed certificate form (a document officer approves it
// before the certificate is written). The card workflow creates the
// documents when an issue goes pending (RequireDocuments) and asks
// FormApproved before writing; owners download the forms (form.go), sign
// and upload them (upload.go, cms.go) or an operator records their
// receipt (receipt.go); document officers approve or reject (review.go);
// the CA queue shows each card request's signed request form
// (requestform.go). What a card issue recorded is the card code's, read
// through CardIssues.
package documents

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DocumentView is a document with its history, as Self-Service and the
// console show it.
type DocumentView struct {
	*lanyard.Document
	Owner        string
	CardSerial   string
	TemplateName string
	Uploads      []*UploadView   // oldest first
	Decisions    []*DecisionView // oldest first
	Actions      []string        // what the caller may do: download, upload, decide, receipt
	// Channel is how the owner's policy has documents reach the
	// reviewers: uploaded in Self-Service, or sent by other means.
	Channel lanyard.DocumentsChannel
	Links   map[string]string
}

// UploadView is one uploaded version, with who uploaded it.
type UploadView struct {
	*lanyard.DocumentUpload
	UploadedByLogin string
}

// DecisionView is one decision, with who made it.
type DecisionView struct {
	*lanyard.DocumentDecision
	DecidedByLogin string
}

// documentStaff may see every user's documents; only document officers
// decide. Documents are signed forms, not secrets, but they carry
// personal details: other users never see them.
func documentStaff(p *lanyard.Principal) bool {
	return p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleDocumentOfficer, lanyard.RoleCAManager)
}

// visibleDocument reads document id if p may see it; others get
// ENotFound, as for cards.
func visibleDocument(tx lanyard.Tx, p *lanyard.Principal, id int64) (*lanyard.Document, error) {
	d, err := tx.DocumentByID(id)
	if err != nil {
		return nil, err
	}
	if d.UserID != p.User.ID && !documentStaff(p) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "document %d not found", id)
	}
	return d, nil
}

// RequireDocuments records, inside the caller's transaction, that the
// certificate of template in the card's slot needs the given documents
// (awaiting upload). The card workflow calls it when an issue goes
// pending. It is idempotent for the card's current issue operation: a
// document of the same slot and kind already required for that operation
// is kept as it is, with its history; a new operation (the card was
// revoked and cleared and is issued again) gets new documents.
func (s *Documents) RequireDocuments(tx lanyard.Tx, card *lanyard.Card, user *lanyard.User, slot, template string, kinds ...lanyard.DocumentKind) error {
	if card == nil || user == nil || card.ID == 0 || user.ID == 0 || slot == "" || template == "" {
		return lanyard.Errorf(lanyard.EInvalid, "documents need a recorded card, its owner, a slot and a template")
	}
	opID, err := s.currentIssue(tx, card.ID)
	if err != nil {
		return err
	}
	now := s.rec.Clock()
	for _, kind := range kinds {
		if !kind.Valid() {
			return lanyard.Errorf(lanyard.EInvalid, "unknown document kind %q", kind)
		}
		cur, err := latestDocument(tx, card.ID, slot, kind)
		if err != nil {
			return err
		}
		if cur != nil && cur.Template == template && cur.UserID == user.ID &&
			(cur.OperationID == opID && (opID != 0 || cur.State != lanyard.DocApproved)) {
			continue
		}
		d := &lanyard.Document{CardID: card.ID, UserID: user.ID, OperationID: opID, Slot: slot, Template: template, Kind: kind,
			State: lanyard.DocAwaitingUpload, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateDocument(d); err != nil {
			return err
		}
	}
	return nil
}

// currentIssue is the card's unfinished issue operation (0: none).
func (s *Documents) currentIssue(tx lanyard.Tx, cardID int64) (int64, error) {
	op, err := s.cards.UnfinishedIssue(tx, cardID)
	if err != nil || op == nil {
		return 0, err
	}
	return op.ID, nil
}

// LatestDocument is the newest document of kind for the card's slot
// (nil: none), read in the caller's transaction tx: the card workflow
// asks whether a form of the issue it decides is approved.
func (s *Documents) LatestDocument(tx lanyard.Tx, cardID int64, slot string, kind lanyard.DocumentKind) (*lanyard.Document, error) {
	return latestDocument(tx, cardID, slot, kind)
}

// latestDocument is the newest document of kind for the card's slot, or
// nil: older ones belong to earlier issues of the card.
func latestDocument(tx lanyard.Tx, cardID int64, slot string, kind lanyard.DocumentKind) (*lanyard.Document, error) {
	ds, err := tx.ListDocuments(lanyard.DocumentFilter{CardID: cardID, Slot: slot, Kind: kind, Limit: 1})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

// FormApproved reports whether the certificate form of the card's slot is
// approved by a document officer: the card workflow asks before writing a
// certificate whose template requires form approval. A slot without a
// certificate form is not approved (false, nil).
func (s *Documents) FormApproved(ctx context.Context, cardID int64, slot string) (bool, error) {
	var ok bool
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		d, err := latestDocument(tx, cardID, slot, lanyard.DocCertificateForm)
		ok = err == nil && d != nil && d.State == lanyard.DocApproved
		return err
	})
	return ok, err
}

// CardDocuments lists the current documents of a card (the newest of
// each slot and kind) with their histories, for its owner and staff.
func (s *Documents) CardDocuments(ctx context.Context, p *lanyard.Principal, cardID int64) ([]*DocumentView, error) {
	out := []*DocumentView{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(cardID)
		if err != nil {
			return err
		}
		if c.OwnerID != p.User.ID && !documentStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		f := lanyard.DocumentFilter{CardID: cardID, Limit: 200}
		if !documentStaff(p) {
			f.UserID = p.User.ID // not a previous owner's documents of the same card
		}
		ds, err := tx.ListDocuments(f)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, d := range ds {
			key := d.Slot + "/" + string(d.Kind)
			if seen[key] {
				continue
			}
			seen[key] = true
			v, err := s.documentView(tx, p, d)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// GetDocument returns one document with its history.
func (s *Documents) GetDocument(ctx context.Context, p *lanyard.Principal, id int64) (*DocumentView, error) {
	var out *DocumentView
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		d, err := visibleDocument(tx, p, id)
		if err != nil {
			return err
		}
		out, err = s.documentView(tx, p, d)
		return err
	})
	return out, err
}

// ListDocuments lists documents for staff: by default the document
// officers' queue (uploaded, waiting for a decision), oldest first.
func (s *Documents) ListDocuments(ctx context.Context, p *lanyard.Principal, f lanyard.DocumentFilter) ([]*DocumentView, error) {
	if !documentStaff(p) {
		f.UserID = p.User.ID
	}
	if f.State != "" && !f.State.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown document state %q", f.State)
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown document kind %q", f.Kind)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	out := []*DocumentView{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ds, err := tx.ListDocuments(f)
		if err != nil {
			return err
		}
		for i := len(ds) - 1; i >= 0; i-- { // oldest first: a queue
			v, err := s.documentView(tx, p, ds[i])
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// documentsChannel is the documents channel of the policy that applies
// to userID now: uploads in Self-Service unless it says other means.
func (s *Documents) documentsChannel(tx lanyard.Tx, userID int64) lanyard.DocumentsChannel {
	u, err := tx.UserByID(userID)
	if err != nil {
		return lanyard.DocsViaLanyard
	}
	pol, err := s.catalog.PolicyFor(tx, u)
	if err != nil || pol.Settings.Documents.Channel != lanyard.DocsViaOther {
		return lanyard.DocsViaLanyard
	}
	return lanyard.DocsViaOther
}

func (s *Documents) documentView(tx lanyard.Tx, p *lanyard.Principal, d *lanyard.Document) (*DocumentView, error) {
	v := &DocumentView{Document: d, Uploads: []*UploadView{}, Decisions: []*DecisionView{}, Actions: []string{"download"}}
	logins := map[int64]string{}
	login := func(id int64) string {
		if id == 0 {
			return ""
		}
		if l, ok := logins[id]; ok {
			return l
		}
		if u, err := tx.UserByID(id); err == nil {
			logins[id] = u.Login
		}
		return logins[id]
	}
	v.Owner = login(d.UserID)
	if c, err := tx.CardByID(d.CardID); err == nil {
		v.CardSerial = c.Serial
	} else if !lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, err
	}
	if t, err := s.catalog.Template(tx, d.Template); err == nil {
		v.TemplateName = t.DisplayName
	}
	ups, err := tx.DocumentUploads(d.ID)
	if err != nil {
		return nil, err
	}
	for _, u := range ups {
		v.Uploads = append(v.Uploads, &UploadView{DocumentUpload: u, UploadedByLogin: login(u.UploadedBy)})
	}
	decs, err := tx.DocumentDecisions(d.ID)
	if err != nil {
		return nil, err
	}
	for _, dd := range decs {
		v.Decisions = append(v.Decisions, &DecisionView{DocumentDecision: dd, DecidedByLogin: login(dd.DecidedBy)})
	}
	v.Channel = s.documentsChannel(tx, d.UserID)
	if d.UserID == p.User.ID && v.Channel == lanyard.DocsViaLanyard && (d.State == lanyard.DocAwaitingUpload || d.State == lanyard.DocRejected) {
		v.Actions = append(v.Actions, "upload")
	}
	if p.Has(lanyard.RoleDocumentOfficer) && d.State == lanyard.DocUploaded && d.UserID != p.User.ID && suppliedBy(ups, d.Uploads) != p.User.ID {
		v.Actions = append(v.Actions, "decide")
	}
	if p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleDocumentOfficer) && d.UserID != p.User.ID &&
		(d.State == lanyard.DocAwaitingUpload || d.State == lanyard.DocRejected) {
		// Documents sent by other means: the policy's channel when it
		// says so, and always a way the guide allows ("by any other
		// means authorized in your company").
		v.Actions = append(v.Actions, "receipt")
	}
	base := "/api/v1/documents/" + strconv.FormatInt(d.ID, 10)
	v.Links = map[string]string{"form": base + "/form.pdf", "uploads": base + "/uploads"}
	return v, nil
}
