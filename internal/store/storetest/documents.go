package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// NewDocument returns a document awaiting upload for the card's slot 9c.
func NewDocument(cardID, userID int64, kind lanyard.DocumentKind) *lanyard.Document {
	return &lanyard.Document{
		CardID: cardID, UserID: userID, Slot: "9c", Template: "document-signing", Kind: kind, State: lanyard.DocAwaitingUpload,
		CreatedAt: t0, UpdatedAt: at(time.Second),
	}
}

// NewUpload returns version v of a document's upload with every field set.
func NewUpload(documentID, userID int64, v int) *lanyard.DocumentUpload {
	content := bytes.Repeat([]byte{'%', 'P', 'D', 'F', byte(v)}, 100)
	content = append(content, 0, 0xff) // binary, with a trailing NUL-free byte
	return &lanyard.DocumentUpload{
		DocumentID: documentID, Version: v, FileName: "form-v.pdf", ContentType: "application/pdf", Format: lanyard.UploadCMS,
		Size: int64(len(content)), SHA256: "ab12", Content: content, SignerSerial: "1f", SignerSubject: "CN=Alice",
		UploadedBy: userID, UploadedAt: at(time.Duration(v) * time.Minute),
	}
}

func testDocuments(t *testing.T, s lanyard.Store) {
	alice, officer := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "officer")
	card, other := NewCard("5001", alice.ID), NewCard("5002", alice.ID)
	op := &lanyard.Operation{Kind: lanyard.OpIssue, UserID: alice.ID, State: lanyard.OpPending, CreatedAt: t0, UpdatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		if err := tx.CreateCard(other); err != nil {
			return err
		}
		op.CardID = card.ID
		return tx.CreateOperation(op)
	})
	form, req := NewDocument(card.ID, alice.ID, lanyard.DocCertificateForm), NewDocument(card.ID, alice.ID, lanyard.DocCertificateRequest)
	form.OperationID = op.ID
	elsewhere := NewDocument(other.ID, alice.ID, lanyard.DocCertificateForm)
	elsewhere.Slot = "9a"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, d := range []*lanyard.Document{form, req, elsewhere} {
			if err := tx.CreateDocument(d); err != nil {
				return err
			}
		}
		return nil
	})
	docID := func(d *lanyard.Document) int64 { return d.ID }
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.Document{form, req} {
			got, err := tx.DocumentByID(want.ID)
			if err != nil {
				return err
			}
			equal(t, "DocumentByID", got, want)
		}
		_, err := tx.DocumentByID(999_999)
		wantCode(t, "DocumentByID missing", err, lanyard.ENotFound)
		for _, c := range []struct {
			what string
			f    lanyard.DocumentFilter
			want []int64
		}{
			{"card", lanyard.DocumentFilter{CardID: card.ID}, []int64{req.ID, form.ID}},
			{"user", lanyard.DocumentFilter{UserID: alice.ID}, []int64{elsewhere.ID, req.ID, form.ID}},
			{"slot", lanyard.DocumentFilter{Slot: "9a"}, []int64{elsewhere.ID}},
			{"kind", lanyard.DocumentFilter{CardID: card.ID, Kind: lanyard.DocCertificateForm}, []int64{form.ID}},
			{"state", lanyard.DocumentFilter{State: lanyard.DocUploaded}, nil},
			{"page", lanyard.DocumentFilter{Limit: 1, Offset: 1}, []int64{req.ID}},
		} {
			list, err := tx.ListDocuments(c.f)
			if err != nil {
				return err
			}
			wantIDs(t, "ListDocuments "+c.what, list, docID, c.want...)
		}
		_, err = tx.DocumentForm(form.ID)
		wantCode(t, "DocumentForm before it is set", err, lanyard.ENotFound)
		return nil
	})

	// Bad references and values are refused.
	bad := NewDocument(999_999, alice.ID, lanyard.DocCertificateForm)
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateDocument(bad) })
	wantCode(t, "CreateDocument missing card", err, lanyard.EInvalid)
	bad = NewDocument(card.ID, alice.ID, "other")
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateDocument(bad) })
	wantCode(t, "CreateDocument bad kind", err, lanyard.EInvalid)

	// The form is kept once, byte for byte.
	pdf := append([]byte("%PDF-1.3\n"), 0, 1, 2, 0xfe, 0xff)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.SetDocumentForm(form.ID, pdf, "cafe") })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetDocumentForm(form.ID, []byte("%PDF-other"), "beef") })
	wantCode(t, "SetDocumentForm twice", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetDocumentForm(999_999, pdf, "cafe") })
	wantCode(t, "SetDocumentForm missing", err, lanyard.ENotFound)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DocumentForm(form.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, pdf) {
			t.Errorf("DocumentForm = %x, want %x", got, pdf)
		}
		d, err := tx.DocumentByID(form.ID)
		if err != nil {
			return err
		}
		if d.FormSHA256 != "cafe" {
			t.Errorf("FormSHA256 = %q, want cafe", d.FormSHA256)
		}
		return nil
	})
	form.FormSHA256 = "cafe"

	// An upload: the version, then the state moves by compare-and-set.
	u1 := NewUpload(form.ID, alice.ID, 1)
	upd := *form
	upd.State, upd.Uploads, upd.UpdatedAt = lanyard.DocUploaded, 1, at(time.Hour)
	upd.Slot, upd.Template, upd.CreatedAt = "changed", "changed", at(-time.Hour) // not written
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateDocumentUpload(u1); err != nil {
			return err
		}
		return tx.UpdateDocument(&upd, lanyard.DocAwaitingUpload)
	})
	want := *form
	want.State, want.Uploads, want.UpdatedAt = lanyard.DocUploaded, 1, at(time.Hour).Truncate(time.Microsecond).UTC()
	stale := upd
	stale.State = lanyard.DocApproved
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateDocument(&stale, lanyard.DocAwaitingUpload) })
	wantCode(t, "UpdateDocument from a state it is no longer in", err, lanyard.EConflict)
	missing := upd
	missing.ID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateDocument(&missing, lanyard.DocUploaded) })
	wantCode(t, "UpdateDocument missing", err, lanyard.ENotFound)
	dup := NewUpload(form.ID, alice.ID, 1)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateDocumentUpload(dup) })
	wantCode(t, "CreateDocumentUpload same version", err, lanyard.EConflict)
	orphan := NewUpload(999_999, alice.ID, 1)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateDocumentUpload(orphan) })
	wantCode(t, "CreateDocumentUpload missing document", err, lanyard.EInvalid)

	// Rejected, uploaded again, approved: the history keeps all of it.
	d1 := &lanyard.DocumentDecision{DocumentID: form.ID, Version: 1, Decision: lanyard.DocRejected, Comment: "unsigned", DecidedBy: officer.ID, DecidedAt: at(2 * time.Hour)}
	u2 := NewUpload(form.ID, alice.ID, 2)
	u2.Format, u2.SignerSerial, u2.SignerSubject, u2.ContentType = lanyard.UploadImage, "", "", "image/png"
	d2 := &lanyard.DocumentDecision{DocumentID: form.ID, Version: 2, Decision: lanyard.DocApproved, DecidedBy: officer.ID, DecidedAt: at(4 * time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		want.State = lanyard.DocRejected
		if err := tx.CreateDocumentDecision(d1); err != nil {
			return err
		}
		if err := tx.UpdateDocument(&want, lanyard.DocUploaded); err != nil {
			return err
		}
		if err := tx.CreateDocumentUpload(u2); err != nil {
			return err
		}
		want.State, want.Uploads = lanyard.DocUploaded, 2
		if err := tx.UpdateDocument(&want, lanyard.DocRejected); err != nil {
			return err
		}
		if err := tx.CreateDocumentDecision(d2); err != nil {
			return err
		}
		want.State = lanyard.DocApproved
		return tx.UpdateDocument(&want, lanyard.DocUploaded)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DocumentByID(form.ID)
		if err != nil {
			return err
		}
		equal(t, "document after its history", got, &want)
		ups, err := tx.DocumentUploads(form.ID)
		if err != nil {
			return err
		}
		l1, l2 := *u1, *u2
		l1.Content, l2.Content = nil, nil
		equal(t, "DocumentUploads (without content)", ups, []*lanyard.DocumentUpload{&l1, &l2})
		one, err := tx.DocumentUpload(form.ID, 2)
		if err != nil {
			return err
		}
		equal(t, "DocumentUpload", one, u2)
		_, err = tx.DocumentUpload(form.ID, 3)
		wantCode(t, "DocumentUpload missing version", err, lanyard.ENotFound)
		decs, err := tx.DocumentDecisions(form.ID)
		if err != nil {
			return err
		}
		equal(t, "DocumentDecisions", decs, []*lanyard.DocumentDecision{d1, d2})
		none, err := tx.DocumentUploads(req.ID)
		if err != nil {
			return err
		}
		if none == nil || len(none) != 0 {
			t.Errorf("DocumentUploads of a document without uploads = %#v, want an empty slice", none)
		}
		list, err := tx.ListDocuments(lanyard.DocumentFilter{State: lanyard.DocApproved})
		if err != nil {
			return err
		}
		wantIDs(t, "ListDocuments approved", list, docID, form.ID)
		return nil
	})
}
