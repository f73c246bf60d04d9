// Package docform renders the documents of the documents check (the
// guide's "Documents check": the certificate request form and the
// certificate form) as PDF, for the card's owner to print or sign.
//
// Rendering is a pure function of the Form: the same Form gives the same
// bytes (no compression, fixed dates, sorted catalog, core fonts that are
// not embedded), so tests can compare output and read the text back. The
// service still keeps the bytes it first served, because a detached CMS
// signature covers exactly those and a library upgrade must not change
// them.
package docform

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
)

// Kinds of form, as lanyard.DocumentKind names them.
const (
	CertificateRequest = "certificate_request"
	CertificateForm    = "certificate_form"
)

// Form is what a form says.
type Form struct {
	Kind       string // CertificateRequest or CertificateForm
	DocumentID int64
	// The person the certificate is for.
	DisplayName, Login, Email, UPN string
	// The certificate.
	Template, TemplateName string // name and display name
	Subject                string
	CA                     string
	Slot                   string // PIV slot on the card
	CardSerial, CardType   string
	KeyAlgorithm           string // e.g. "ECDSA P-256"
	KeySHA256              string // hex SHA-256 of the SubjectPublicKeyInfo
	Serial                 string // the certificate's serial, once issued (certificate form)
	NotBefore, NotAfter    time.Time
	Date                   time.Time // the form's date
	Organization           string    // shown in the header, e.g. the server's name
}

// Title is the form's heading.
func (f *Form) Title() string {
	if f.Kind == CertificateRequest {
		return "Certificate request"
	}
	return "Certificate form"
}

// Render returns the form as a one-page A4 PDF.
func Render(f *Form) ([]byte, error) {
	if f.Kind != CertificateRequest && f.Kind != CertificateForm {
		return nil, fmt.Errorf("docform: unknown kind %q", f.Kind)
	}
	date := f.Date.UTC().Truncate(time.Second)
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCompression(false)
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(date)
	pdf.SetModificationDate(date)
	pdf.SetProducer("Lanyard", false)
	pdf.SetCreator("Lanyard", false)
	pdf.SetTitle(f.Title(), true)
	pdf.SetAuthor(f.Organization, true)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // UTF-8 → cp1252 of the core fonts
	pdf.AddPage()

	pdf.SetFont("Helvetica", "", 9)
	pdf.CellFormat(0, 5, tr(f.Organization), "", 0, "L", false, 0, "")
	pdf.CellFormat(0, 5, fmt.Sprintf("Document %d", f.DocumentID), "", 1, "R", false, 0, "")
	pdf.Ln(4)
	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(0, 10, f.Title(), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	intro := "I request a certificate for the key below, generated on my card, and confirm that the details are correct."
	if f.Kind == CertificateForm {
		intro = "I confirm that the certificate below was issued to me for the key generated on my card, and that its details are correct."
	}
	pdf.MultiCell(0, 5, tr(intro), "", "L", false)
	pdf.Ln(4)

	section := func(title string, rows [][2]string) {
		pdf.SetFont("Helvetica", "B", 12)
		pdf.CellFormat(0, 8, title, "B", 1, "L", false, 0, "")
		pdf.Ln(1)
		for _, r := range rows {
			pdf.SetFont("Helvetica", "B", 10)
			pdf.CellFormat(48, 6, r[0], "", 0, "L", false, 0, "")
			pdf.SetFont("Courier", "", 10)
			pdf.MultiCell(0, 6, tr(orDash(r[1])), "", "L", false)
		}
		pdf.Ln(3)
	}
	section("Applicant", [][2]string{
		{"Name", f.DisplayName}, {"Login", f.Login}, {"E-mail", f.Email}, {"User principal name", f.UPN},
	})
	cert := [][2]string{
		{"Template", templateText(f)}, {"Subject", f.Subject}, {"Certification authority", f.CA},
		{"Card", cardText(f)}, {"Key algorithm", f.KeyAlgorithm},
		{"Key fingerprint", Fingerprint(f.KeySHA256)},
	}
	if f.Serial != "" {
		cert = append(cert, [2]string{"Certificate serial", f.Serial})
	}
	if !f.NotBefore.IsZero() {
		cert = append(cert, [2]string{"Valid", f.NotBefore.UTC().Format("2006-01-02") + " to " + f.NotAfter.UTC().Format("2006-01-02")})
	}
	section("Certificate", cert)
	pdf.SetFont("Helvetica", "", 9)
	pdf.MultiCell(0, 4.5, "The key fingerprint is the SHA-256 hash of the public key (SubjectPublicKeyInfo). "+
		"Compare it with the one your card shows before you sign.", "", "L", false)
	pdf.Ln(4)

	pdf.SetFont("Helvetica", "", 10)
	pdf.CellFormat(0, 6, "Date: "+date.Format("2006-01-02"), "", 1, "L", false, 0, "")
	pdf.Ln(16)
	y := pdf.GetY()
	pdf.Line(20, y, 95, y)
	pdf.Line(115, y, 190, y)
	pdf.SetXY(20, y+1)
	pdf.CellFormat(75, 5, tr("Applicant's signature ("+f.DisplayName+")"), "", 0, "L", false, 0, "")
	pdf.SetXY(115, y+1)
	approver := "Document officer's signature"
	if f.Kind == CertificateRequest {
		approver = "Approver's signature (CA)"
	}
	pdf.CellFormat(75, 5, approver, "", 1, "L", false, 0, "")
	pdf.Ln(10)
	y = pdf.GetY()
	pdf.Line(20, y, 95, y)
	pdf.Line(115, y, 190, y)
	pdf.SetXY(20, y+1)
	pdf.CellFormat(75, 5, "Place, date", "", 0, "L", false, 0, "")
	pdf.SetXY(115, y+1)
	pdf.CellFormat(75, 5, "Date", "", 1, "L", false, 0, "")

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("docform: %w", err)
	}
	return buf.Bytes(), nil
}

// Fingerprint groups a hex SHA-256 in blocks of four, upper case, for
// people comparing it by eye.
func Fingerprint(hexSum string) string {
	s := strings.ToUpper(hexSum)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

func templateText(f *Form) string {
	if f.TemplateName != "" && f.TemplateName != f.Template {
		return f.TemplateName + " (" + f.Template + ")"
	}
	return f.Template
}

func cardText(f *Form) string {
	s := f.CardSerial
	if f.CardType != "" {
		s += " (" + f.CardType + ")"
	}
	if f.Slot != "" {
		s += ", slot " + f.Slot
	}
	return s
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
