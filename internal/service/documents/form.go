package documents

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/docform"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DocumentForm returns the form of document id as a PDF, with a file name
// for it. The form is generated on first request and kept byte for byte
// from then on (one transaction, one audit event), because a detached
// CMS signature the owner uploads covers exactly those bytes.
func (s *Documents) DocumentForm(ctx context.Context, p *lanyard.Principal, id int64) (pdf []byte, fileName string, err error) {
	var d *lanyard.Document
	var f *docform.Form
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		if d, err = visibleDocument(tx, p, id); err != nil {
			return err
		}
		if d.FormSHA256 != "" {
			pdf, err = tx.DocumentForm(d.ID)
			return err
		}
		f, err = s.formFacts(tx, d)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	name := fmt.Sprintf("%s-%s-%d.pdf", d.Kind, d.Slot, d.ID)
	if pdf != nil {
		return pdf, name, nil
	}
	if pdf, err = docform.Render(f); err != nil {
		return nil, "", lanyard.Wrap(lanyard.EInternal, err, "the form could not be generated")
	}
	sum := sha256.Sum256(pdf)
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "document.form", "document", strconv.FormatInt(d.ID, 10), map[string]any{
			"card": d.CardID, "slot": d.Slot, "kind": d.Kind, "sha256": hex.EncodeToString(sum[:]), "key_sha256": f.KeySHA256})
	}, func(tx lanyard.Tx) error { return tx.SetDocumentForm(d.ID, pdf, hex.EncodeToString(sum[:])) })
	if lanyard.IsCode(err, lanyard.EConflict) {
		// Generated at the same moment elsewhere: serve that one.
		err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) { pdf, err = tx.DocumentForm(d.ID); return err })
	}
	if err != nil {
		return nil, "", err
	}
	return pdf, name, nil
}

// CardDocumentForm is DocumentForm for the current document of kind for
// the card's slot (GET /api/v1/cards/{id}/documents/{slot}/{kind}.pdf).
func (s *Documents) CardDocumentForm(ctx context.Context, p *lanyard.Principal, cardID int64, slot string, kind lanyard.DocumentKind) ([]byte, string, error) {
	if !kind.Valid() {
		return nil, "", lanyard.Errorf(lanyard.ENotFound, "there is no document kind %q (use certificate_request or certificate_form)", kind)
	}
	var id int64
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(cardID)
		if err != nil {
			return err
		}
		if c.OwnerID != p.User.ID && !documentStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		d, err := latestDocument(tx, cardID, slot, kind)
		if err != nil {
			return err
		}
		if d == nil {
			return lanyard.Errorf(lanyard.ENotFound, "the certificate in slot %s of card %s needs no %s", slot, c.Serial, kindText(kind))
		}
		id = d.ID
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return s.DocumentForm(ctx, p, id)
}

// formFacts gathers what the form says: the owner as Lanyard knows them
// now, the template, and the key the certificate is (to be) issued for —
// from the CA request while it is pending, from the certificate once
// issued.
func (s *Documents) formFacts(tx lanyard.Tx, d *lanyard.Document) (*docform.Form, error) {
	u, err := tx.UserByID(d.UserID)
	if err != nil {
		return nil, err
	}
	c, err := tx.CardByID(d.CardID)
	if err != nil {
		return nil, err
	}
	f := &docform.Form{Kind: string(d.Kind), DocumentID: d.ID, DisplayName: u.DisplayName, Login: u.Login, Email: u.Email, UPN: u.UPN,
		Template: d.Template, Slot: d.Slot, CardSerial: c.Serial, CardType: c.CardType, Date: s.rec.Clock(), Organization: s.organization()}
	if t, err := s.catalog.Template(tx, d.Template); err == nil {
		f.TemplateName, f.CA = t.DisplayName, t.CA
	}
	cert, req, err := s.documentKey(tx, d)
	if err != nil {
		return nil, err
	}
	var spki []byte
	switch {
	case cert != nil:
		x, err := x509.ParseCertificate(cert.DER)
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
		}
		spki = x.RawSubjectPublicKeyInfo
		f.Subject, f.CA, f.Serial, f.NotBefore, f.NotAfter = cert.Subject, cert.CA, cert.Serial, cert.NotBefore, cert.NotAfter
	case req != nil:
		spki = req.PublicKey
		f.Subject, f.CA = req.Subject, req.CA
	default:
		return nil, lanyard.Errorf(lanyard.EConflict, "the key of the %s certificate is not known yet; continue the card issue first", d.Template)
	}
	sum := sha256.Sum256(spki)
	f.KeySHA256 = hex.EncodeToString(sum[:])
	if pub, err := x509.ParsePKIXPublicKey(spki); err == nil {
		f.KeyAlgorithm = keyAlgorithmText(pub)
	}
	return f, nil
}

// documentKey finds the certificate or the CA request of the document's
// slot: through the issue operation's record first (the request or the
// certificate of that very issue), else the newest certificate of the
// template on the card.
func (s *Documents) documentKey(tx lanyard.Tx, d *lanyard.Document) (*lanyard.Certificate, *lanyard.CertRequest, error) {
	if d.OperationID != 0 {
		op, err := tx.OperationByID(d.OperationID)
		if err != nil {
			return nil, nil, err
		}
		requests, certs, err := s.cards.IssueRecord(op)
		if err != nil {
			return nil, nil, err
		}
		if id := requests[d.Slot]; id != 0 {
			r, err := tx.RequestByID(id)
			if err != nil {
				return nil, nil, err
			}
			if r.Status == lanyard.RequestIssued && r.CertificateID != 0 {
				c, err := tx.CertificateByID(r.CertificateID)
				return c, nil, err
			}
			return nil, r, nil
		}
		if serial := certs[d.Slot]; serial != "" {
			certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: d.CardID})
			if err != nil {
				return nil, nil, err
			}
			for _, c := range certs {
				if c.Serial == serial {
					return c, nil, nil
				}
			}
		}
	}
	certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: d.CardID})
	if err != nil {
		return nil, nil, err
	}
	var best *lanyard.Certificate
	for _, c := range certs {
		if c.Template == d.Template && c.Source == lanyard.SourceManaged && c.Status != lanyard.CertRevoked &&
			(best == nil || c.ID > best.ID) {
			best = c
		}
	}
	return best, nil, nil
}

func keyAlgorithmText(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// organization heads the forms: the server's host name.
func (s *Documents) organization() string {
	if u, err := url.Parse(s.baseURL); err == nil && u.Hostname() != "" {
		return "Lanyard at " + u.Hostname()
	}
	return "Lanyard"
}

func kindText(k lanyard.DocumentKind) string {
	if k == lanyard.DocCertificateRequest {
		return "certificate request"
	}
	return "certificate form"
}
