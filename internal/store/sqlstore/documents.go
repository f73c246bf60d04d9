package sqlstore

import (
	"database/sql"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const documentCols = `id, card_id, user_id, operation_id, slot, template, kind, state, form_sha256, uploads, created_at, updated_at`

var (
	qInsertDocument = prepared(`INSERT INTO documents (card_id, user_id, operation_id, slot, template, kind, state, form_sha256, uploads,
		created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	// The state condition makes every transition a compare-and-set (two
	// officers on two replicas, READ COMMITTED): one wins, the other gets
	// EConflict.
	qUpdateDocument = prepared(`UPDATE documents SET state = ?, uploads = ?, updated_at = ? WHERE id = ? AND state = ?`)
	qDocumentByID   = prepared(`SELECT ` + documentCols + ` FROM documents WHERE id = ?`)
	qSetFormSHA     = prepared(`UPDATE documents SET form_sha256 = ? WHERE id = ? AND form_sha256 = ''`)
	qInsertForm     = prepared(`INSERT INTO document_forms (document_id, pdf) VALUES (?, ?)`)
	qDocumentForm   = prepared(`SELECT pdf FROM document_forms WHERE document_id = ?`)

	qInsertUpload = prepared(`INSERT INTO document_uploads (document_id, version, file_name, content_type, format, size, sha256, content,
		signer_serial, signer_subject, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
	qListUploads = prepared(`SELECT id, document_id, version, file_name, content_type, format, size, sha256, signer_serial, signer_subject,
		uploaded_by, uploaded_at FROM document_uploads WHERE document_id = ? ORDER BY version`)
	qUploadByVersion = prepared(`SELECT id, document_id, version, file_name, content_type, format, size, sha256, signer_serial, signer_subject,
		uploaded_by, uploaded_at, content FROM document_uploads WHERE document_id = ? AND version = ?`)

	qInsertDecision = prepared(`INSERT INTO document_decisions (document_id, version, decision, comment, decided_by, decided_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
	qListDecisions = prepared(`SELECT id, document_id, version, decision, comment, decided_by, decided_at
		FROM document_decisions WHERE document_id = ? ORDER BY id`)
)

const documentMissing = "document refers to a card, user or operation that does not exist"

func normDocument(d *lanyard.Document) {
	d.CreatedAt, d.UpdatedAt = normTime(d.CreatedAt), normTime(d.UpdatedAt)
}

func (t documentsTx) CreateDocument(d *lanyard.Document) error {
	if !d.Kind.Valid() || !d.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "unknown document kind %q or state %q", d.Kind, d.State)
	}
	normDocument(d)
	err := t.row(qInsertDocument, d.CardID, d.UserID, ref(d.OperationID), d.Slot, d.Template, string(d.Kind), string(d.State), d.FormSHA256,
		d.Uploads, micros(d.CreatedAt), micros(d.UpdatedAt)).Scan(&d.ID)
	if err != nil {
		return t.writeErr(err, "document already exists", documentMissing)
	}
	return nil
}

// UpdateDocument moves a document from state from to d.State with its
// upload count; a document in another state yields EConflict.
func (t documentsTx) UpdateDocument(d *lanyard.Document, from lanyard.DocumentState) error {
	if !d.State.Valid() {
		return lanyard.Errorf(lanyard.EInvalid, "unknown document state %q", d.State)
	}
	normDocument(d)
	res, err := t.exec(qUpdateDocument, string(d.State), d.Uploads, micros(d.UpdatedAt), d.ID, string(from))
	err = t.one(res, err, notFound("document %d not found", d.ID), "", documentMissing)
	if !lanyard.IsCode(err, lanyard.ENotFound) {
		return err
	}
	cur, gerr := t.DocumentByID(d.ID)
	if gerr != nil {
		return gerr
	}
	return lanyard.Errorf(lanyard.EConflict, "document %d is %s now, not %s", d.ID, strings.ReplaceAll(string(cur.State), "_", " "),
		strings.ReplaceAll(string(from), "_", " "))
}

func (t documentsTx) DocumentByID(id int64) (*lanyard.Document, error) {
	d, err := scanDocument(t.row(qDocumentByID, id))
	if err != nil {
		return nil, t.readErr(err, notFound("document %d not found", id))
	}
	return d, nil
}

// ListDocuments returns the documents matching f, newest first.
func (t documentsTx) ListDocuments(f lanyard.DocumentFilter) ([]*lanyard.Document, error) {
	var q strings.Builder
	var args []any
	q.WriteString(`SELECT ` + documentCols + ` FROM documents WHERE 1 = 1`)
	add := func(cond string, v any) {
		q.WriteString(` AND ` + cond + ` = ?`)
		args = append(args, v)
	}
	if f.CardID != 0 {
		add("card_id", f.CardID)
	}
	if f.UserID != 0 {
		add("user_id", f.UserID)
	}
	if f.Slot != "" {
		add("slot", f.Slot)
	}
	if f.Kind != "" {
		add("kind", string(f.Kind))
	}
	if f.State != "" {
		add("state", string(f.State))
	}
	q.WriteString(` ORDER BY id DESC`)
	args = appendPage(&q, args, f.Limit, f.Offset)
	rows, err := t.query(q.String(), args...)
	return collect(t.txn, rows, err, scanDocument)
}

// SetDocumentForm records the generated form once: the hash is set only
// while empty, so a second generation (another replica, at the same
// moment) gets EConflict and keeps the first.
func (t documentsTx) SetDocumentForm(id int64, pdf []byte, sha256Hex string) error {
	res, err := t.exec(qSetFormSHA, sha256Hex, id)
	if err := t.one(res, err, notFound("document %d not found", id), "", documentMissing); err != nil {
		if !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		if _, gerr := t.DocumentByID(id); gerr != nil {
			return gerr
		}
		return lanyard.Errorf(lanyard.EConflict, "document %d already has its form", id)
	}
	if _, err := t.exec(qInsertForm, id, blob(pdf)); err != nil {
		return t.writeErr(err, "document already has its form", documentMissing)
	}
	return nil
}

func (t documentsTx) DocumentForm(id int64) ([]byte, error) {
	var pdf []byte
	if err := t.row(qDocumentForm, id).Scan(&pdf); err != nil {
		return nil, t.readErr(err, notFound("document %d has no form yet", id))
	}
	return bytesOut(pdf), nil
}

const uploadMissing = "upload refers to a document or user that does not exist"

func (t documentsTx) CreateDocumentUpload(u *lanyard.DocumentUpload) error {
	u.UploadedAt = normTime(u.UploadedAt)
	u.Content = bytesOut(u.Content)
	err := t.row(qInsertUpload, u.DocumentID, u.Version, u.FileName, u.ContentType, string(u.Format), u.Size, u.SHA256, blob(u.Content),
		u.SignerSerial, u.SignerSubject, u.UploadedBy, micros(u.UploadedAt)).Scan(&u.ID)
	if err != nil {
		return t.writeErr(err, "this version of the document was already uploaded", uploadMissing)
	}
	return nil
}

func (t documentsTx) DocumentUploads(documentID int64) ([]*lanyard.DocumentUpload, error) {
	rows, err := t.rows(qListUploads, documentID)
	return collect(t.txn, rows, err, func(s scanner) (*lanyard.DocumentUpload, error) { return scanUpload(s, false) })
}

func (t documentsTx) DocumentUpload(documentID int64, version int) (*lanyard.DocumentUpload, error) {
	u, err := scanUpload(t.row(qUploadByVersion, documentID, version), true)
	if err != nil {
		return nil, t.readErr(err, notFound("document %d has no upload %d", documentID, version))
	}
	return u, nil
}

func (t documentsTx) CreateDocumentDecision(d *lanyard.DocumentDecision) error {
	d.DecidedAt = normTime(d.DecidedAt)
	err := t.row(qInsertDecision, d.DocumentID, d.Version, string(d.Decision), d.Comment, d.DecidedBy, micros(d.DecidedAt)).Scan(&d.ID)
	if err != nil {
		return t.writeErr(err, "decision already recorded", "decision refers to a document or user that does not exist")
	}
	return nil
}

func (t documentsTx) DocumentDecisions(documentID int64) ([]*lanyard.DocumentDecision, error) {
	rows, err := t.rows(qListDecisions, documentID)
	return collect(t.txn, rows, err, scanDecision)
}

func scanDocument(s scanner) (*lanyard.Document, error) {
	var d lanyard.Document
	var op sql.NullInt64
	var kind, state string
	var created, updated int64
	if err := s.Scan(&d.ID, &d.CardID, &d.UserID, &op, &d.Slot, &d.Template, &kind, &state, &d.FormSHA256, &d.Uploads,
		&created, &updated); err != nil {
		return nil, err
	}
	d.OperationID, d.Kind, d.State = refOut(op), lanyard.DocumentKind(kind), lanyard.DocumentState(state)
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &d, nil
}

func scanUpload(s scanner, content bool) (*lanyard.DocumentUpload, error) {
	var u lanyard.DocumentUpload
	var format string
	var at int64
	dest := []any{&u.ID, &u.DocumentID, &u.Version, &u.FileName, &u.ContentType, &format, &u.Size, &u.SHA256, &u.SignerSerial,
		&u.SignerSubject, &u.UploadedBy, &at}
	if content {
		dest = append(dest, &u.Content)
	}
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	u.Format, u.UploadedAt, u.Content = lanyard.UploadFormat(format), fromMicros(at), bytesOut(u.Content)
	return &u, nil
}

func scanDecision(s scanner) (*lanyard.DocumentDecision, error) {
	var d lanyard.DocumentDecision
	var decision string
	var at int64
	if err := s.Scan(&d.ID, &d.DocumentID, &d.Version, &decision, &d.Comment, &d.DecidedBy, &at); err != nil {
		return nil, err
	}
	d.Decision, d.DecidedAt = lanyard.DocumentState(decision), fromMicros(at)
	return &d, nil
}
