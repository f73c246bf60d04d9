package documents

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"image/png"
	"mime"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MaxDocumentSize bounds an uploaded document: a scanned A4 page as JPEG
// or a signed PDF is well under it.
const MaxDocumentSize = 10 << 20

// UploadInput is one uploaded file: its name, its declared media type
// and its bytes.
type UploadInput struct {
	FileName    string
	ContentType string
	Content     []byte
}

// Media types an upload may declare, by the format they mean.
var uploadTypes = map[string]lanyard.UploadFormat{
	"application/pdf":               lanyard.UploadPDF,
	"image/png":                     lanyard.UploadImage,
	"image/jpeg":                    lanyard.UploadImage,
	"application/pkcs7-signature":   lanyard.UploadCMS, // RFC 8551 3.2.1: a detached signature, .p7s
	"application/x-pkcs7-signature": lanyard.UploadCMS,
}

// The media type each known file name extension stands for.
var extensionTypes = map[string]string{
	".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".p7s": "application/pkcs7-signature", ".pem": "application/pkcs7-signature", ".der": "application/pkcs7-signature",
}

// checkUpload decides what an upload is from its declared type, its name
// and its first bytes, which must all agree; anything else is refused
// with a message that says why. It returns the format and the normalized
// media type.
func checkUpload(in *UploadInput) (lanyard.UploadFormat, string, error) {
	switch {
	case len(in.Content) == 0:
		return "", "", lanyard.Errorf(lanyard.EInvalid, "the file is empty")
	case len(in.Content) > MaxDocumentSize:
		return "", "", lanyard.Errorf(lanyard.ETooLarge, "the file is %.1f MiB; documents are limited to %d MiB", float64(len(in.Content))/(1<<20), MaxDocumentSize>>20)
	case len(in.FileName) > 255 || !utf8.ValidString(in.FileName) || strings.ContainsAny(in.FileName, "/\\\x00\r\n"):
		return "", "", lanyard.Errorf(lanyard.EInvalid, "the file name must be at most 255 characters, without path separators or line breaks")
	}
	mt, _, err := mime.ParseMediaType(in.ContentType)
	if err != nil {
		return "", "", lanyard.Errorf(lanyard.EInvalid, "the file's type %q is not a media type; upload a PDF, a PNG or JPEG scan, or a .p7s signature", in.ContentType)
	}
	mt = strings.ToLower(mt)
	format, ok := uploadTypes[mt]
	if !ok {
		return "", "", lanyard.Errorf(lanyard.EInvalid, "files of type %s are not accepted; upload a PDF, a PNG or JPEG scan, or a detached CMS signature (.p7s)", mt)
	}
	if want, known := extensionTypes[strings.ToLower(path.Ext(in.FileName))]; known &&
		(uploadTypes[want] != format || (format == lanyard.UploadImage && want != mt)) {
		return "", "", lanyard.Errorf(lanyard.EInvalid, "the file name %q does not match its type %s", in.FileName, mt)
	}
	b := in.Content
	switch mt {
	case "application/pdf":
		// ISO 32000-1 7.5.2 and 7.5.5: a header "%PDF-1.n" and an
		// end-of-file marker near the end.
		if !bytes.HasPrefix(b, []byte("%PDF-")) {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the file is declared a PDF but is not one (it does not start with %%PDF-)")
		}
		if !bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")) {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the PDF is incomplete (no end-of-file marker); upload the whole file")
		}
	case "image/png":
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the file is declared a PNG image but is not one")
		}
		if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the PNG image is damaged and cannot be read")
		}
	case "image/jpeg":
		if !bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the file is declared a JPEG image but is not one")
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the JPEG image is damaged and cannot be read")
		}
	default: // CMS, DER (a SEQUENCE) or PEM
		if b[0] != 0x30 && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN ")) {
			return "", "", lanyard.Errorf(lanyard.EInvalid, "the file is declared a CMS signature but is neither DER nor PEM")
		}
	}
	return format, mt, nil
}

// UploadDocument stores a signed copy of the document as its next
// version: a PDF, an image scan, or a detached CMS signature over the
// form Lanyard generated, verified against the built-in CA, the
// uploader's own document signing certificate and its revocation status.
// Anything wrong is refused with a clear message and nothing is stored.
// Only the document's owner uploads, while the document awaits an upload
// or was rejected, and only when the policy has documents uploaded here
// (channel "lanyard"; under "other" they are sent by other means and an
// operator records their receipt). Document officers are told (with the file attached).
func (s *Documents) UploadDocument(ctx context.Context, p *lanyard.Principal, id int64, in UploadInput) (*DocumentView, error) {
	var d *lanyard.Document
	var form []byte
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if d, err = visibleDocument(tx, p, id); err != nil {
			return err
		}
		if d.UserID != p.User.ID {
			return lanyard.Errorf(lanyard.EForbidden, "only the card's owner uploads its documents")
		}
		if s.documentsChannel(tx, d.UserID) == lanyard.DocsViaOther {
			return lanyard.Errorf(lanyard.EConflict, "your company has documents sent by other means (for example by e-mail or post), not uploaded here: send the signed document as your company asks, and an operator records its receipt")
		}
		if err := uploadable(d); err != nil {
			return err
		}
		if d.FormSHA256 != "" {
			form, err = tx.DocumentForm(d.ID)
		}
		return err
	}); err != nil {
		return nil, err
	}
	format, mt, err := checkUpload(&in)
	if err != nil {
		return nil, err
	}
	var signer *verifiedSigner
	if format == lanyard.UploadCMS {
		if form == nil {
			return nil, lanyard.Errorf(lanyard.EConflict, "download the form first: a signature must cover the form Lanyard generated for this document")
		}
		if signer, err = s.verifyCMS(ctx, in.Content, form); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(in.Content)
	up := &lanyard.DocumentUpload{DocumentID: d.ID, FileName: in.FileName, ContentType: mt, Format: format, Size: int64(len(in.Content)),
		SHA256: hex.EncodeToString(sum[:]), Content: in.Content, UploadedBy: p.User.ID, UploadedAt: s.rec.Clock()}
	if up.FileName == "" {
		up.FileName = fmt.Sprintf("%s-%s%s", d.Kind, d.Slot, map[lanyard.UploadFormat]string{lanyard.UploadPDF: ".pdf", lanyard.UploadCMS: ".p7s"}[format])
	}
	var owner *lanyard.User
	var card *lanyard.Card
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		details := map[string]any{"card": d.CardID, "slot": d.Slot, "kind": d.Kind, "version": up.Version, "format": format,
			"file_name": up.FileName, "size": up.Size, "sha256": up.SHA256}
		if signer != nil {
			details["signer_serial"], details["signer_ca"] = signer.serial, signer.ca
		}
		return s.rec.Event(p, "document.upload", "document", strconv.FormatInt(d.ID, 10), details)
	}, func(tx lanyard.Tx) error {
		cur, err := tx.DocumentByID(d.ID)
		if err != nil {
			return err
		}
		if err := uploadable(cur); err != nil {
			return err
		}
		if signer != nil {
			// The certificate's status is read in the transaction that
			// stores the upload: a revocation committed before it counts.
			if err := signer.checkRecord(tx, p.User); err != nil {
				return err
			}
			up.SignerSerial, up.SignerSubject = signer.serial, signer.subject
		}
		up.Version = cur.Uploads + 1
		if err := tx.CreateDocumentUpload(up); err != nil {
			return err
		}
		from := cur.State
		cur.State, cur.Uploads, cur.UpdatedAt = lanyard.DocUploaded, up.Version, up.UploadedAt
		if err := tx.UpdateDocument(cur, from); err != nil {
			return err
		}
		d = cur
		if owner, err = tx.UserByID(cur.UserID); err != nil {
			return err
		}
		card, err = tx.CardByID(cur.CardID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notifyOfficers(ctx, DocumentEvent{Kind: "uploaded", User: owner, Card: card, DocKind: string(d.Kind), Template: d.Template,
		FileName: up.FileName, ContentType: up.ContentType, Content: up.Content})
	return s.GetDocument(ctx, p, d.ID)
}

// uploadable refuses an upload while a decision is pending or after
// approval.
func uploadable(d *lanyard.Document) error {
	switch d.State {
	case lanyard.DocUploaded:
		return lanyard.Errorf(lanyard.EConflict, "version %d of this %s waits for a document officer's decision; upload again only if it is rejected", d.Uploads, kindText(d.Kind))
	case lanyard.DocApproved:
		return lanyard.Errorf(lanyard.EConflict, "this %s is already approved", kindText(d.Kind))
	}
	return nil
}

// DocumentFile returns one uploaded version of a document, for its owner
// and staff.
func (s *Documents) DocumentFile(ctx context.Context, p *lanyard.Principal, id int64, version int) (*lanyard.DocumentUpload, error) {
	var up *lanyard.DocumentUpload
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		if _, err := visibleDocument(tx, p, id); err != nil {
			return err
		}
		var err error
		up, err = tx.DocumentUpload(id, version)
		return err
	})
	return up, err
}

// notifyOfficers tells the document officers with an e-mail address that
// a document waits for them. Delivery problems are logged: the upload is
// recorded and the queue shows it either way.
func (s *Documents) notifyOfficers(ctx context.Context, ev DocumentEvent) {
	if s.notifier == nil {
		return
	}
	var to []string
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		us, err := tx.ListUsers(lanyard.UserFilter{Role: lanyard.RoleDocumentOfficer, Limit: 1000})
		for _, u := range us {
			if !u.Disabled && u.Email != "" {
				to = append(to, u.Email)
			}
		}
		return err
	})
	if err == nil && len(to) > 0 {
		err = s.notifier.Document(ctx, to, ev)
	}
	if err != nil {
		s.log.Error("queueing the document notification failed", "card", ev.Card.ID, "kind", ev.Kind, "err", err)
	}
}
