package lanyard

import "time"

// DocumentKind names what a document is (guide: "Documents check"): a
// signed certificate request form or a signed certificate form.
type DocumentKind string

const (
	// DocCertificateRequest is the signed certificate request form: the
	// CA manager approves the request in the CA.
	DocCertificateRequest DocumentKind = "certificate_request"
	// DocCertificateForm is the signed certificate form: a document
	// officer approves it before the certificate is written to the card.
	DocCertificateForm DocumentKind = "certificate_form"
)

// Valid reports whether k is a known kind.
func (k DocumentKind) Valid() bool { return k == DocCertificateRequest || k == DocCertificateForm }

// DocumentState is where a document stands: awaiting upload → uploaded →
// approved or rejected; a rejected document is uploaded again.
type DocumentState string

const (
	DocAwaitingUpload DocumentState = "awaiting_upload"
	DocUploaded       DocumentState = "uploaded"
	DocApproved       DocumentState = "approved"
	DocRejected       DocumentState = "rejected"
)

// Valid reports whether s is a known state.
func (s DocumentState) Valid() bool {
	switch s {
	case DocAwaitingUpload, DocUploaded, DocApproved, DocRejected:
		return true
	}
	return false
}

// Document is one document a card's certificate needs: the form Lanyard
// generates for the certificate in Slot (of template Template) and the
// signed copies its owner uploads. FormSHA256 is the SHA-256 of the form
// as first generated: the form is kept byte for byte from then on
// (Tx.DocumentForm), because a detached signature covers exactly those
// bytes.
type Document struct {
	ID          int64         `json:"id"`
	CardID      int64         `json:"card_id"`
	UserID      int64         `json:"user_id"` // the card's owner, who signs and uploads
	OperationID int64         `json:"operation_id,omitempty"`
	Slot        string        `json:"slot"`
	Template    string        `json:"template"`
	Kind        DocumentKind  `json:"kind"`
	State       DocumentState `json:"state"`
	FormSHA256  string        `json:"form_sha256,omitempty"` // hex; "" until first generated
	Uploads     int           `json:"uploads"`               // versions uploaded so far
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// DocumentFilter selects documents for ListDocuments. Zero fields match
// everything.
type DocumentFilter struct {
	CardID int64
	UserID int64
	Slot   string
	Kind   DocumentKind
	State  DocumentState
	Limit  int
	Offset int
}

// UploadFormat says what an upload is.
type UploadFormat string

const (
	UploadPDF   UploadFormat = "pdf"   // a signed PDF (printed, signed, scanned or signed in a PDF tool)
	UploadImage UploadFormat = "image" // a scan as PNG or JPEG
	UploadCMS   UploadFormat = "cms"   // a detached CMS/PKCS#7 signature over the generated form
	// UploadReceipt records that the signed paper reached the company by
	// other means (policy: documents travel outside Lanyard); it has no
	// content, only who recorded it and the note in FileName.
	UploadReceipt UploadFormat = "receipt"
)

// DocumentUpload is one version of a document as its owner uploaded it.
// Content is the file itself; listings leave it out (Tx.DocumentUploads)
// and Tx.DocumentUpload reads it. Signer names the verified signing
// certificate of a CMS upload.
type DocumentUpload struct {
	ID            int64        `json:"id"`
	DocumentID    int64        `json:"document_id"`
	Version       int          `json:"version"` // 1, 2, … per document
	FileName      string       `json:"file_name"`
	ContentType   string       `json:"content_type"`
	Format        UploadFormat `json:"format"`
	Size          int64        `json:"size"`
	SHA256        string       `json:"sha256"` // hex, of Content
	Content       []byte       `json:"-"`
	SignerSerial  string       `json:"signer_serial,omitempty"`  // CMS: the signing certificate's serial (hex)
	SignerSubject string       `json:"signer_subject,omitempty"` // CMS: its subject
	UploadedBy    int64        `json:"uploaded_by"`
	UploadedAt    time.Time    `json:"uploaded_at"`
}

// DocumentDecision is a document officer's approval or rejection of one
// uploaded version.
type DocumentDecision struct {
	ID         int64         `json:"id"`
	DocumentID int64         `json:"document_id"`
	Version    int           `json:"version"`  // the upload decided on
	Decision   DocumentState `json:"decision"` // approved or rejected
	Comment    string        `json:"comment,omitempty"`
	DecidedBy  int64         `json:"decided_by"`
	DecidedAt  time.Time     `json:"decided_at"`
}
