package docform_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/docform"
)

// pdfText returns the text a PDF shows: the strings of its (uncompressed)
// content streams' Tj operators, unescaped, one per line.
func pdfText(pdf []byte) string {
	var out []string
	for _, m := range regexp.MustCompile(`\(((?:\\.|[^\\)])*)\)\s*Tj`).FindAllSubmatch(pdf, -1) {
		s := regexp.MustCompile(`\\(.)`).ReplaceAll(m[1], []byte("$1"))
		out = append(out, string(s))
	}
	return strings.Join(out, "\n")
}

func form(kind string) *docform.Form {
	return &docform.Form{
		Kind: kind, DocumentID: 42, DisplayName: "Alice Example", Login: "alice", Email: "alice@example.test", UPN: "alice@corp.example.test",
		Template: "document-signing", TemplateName: "Document signing", Subject: "CN=Alice Example", CA: "builtin", Slot: "9c",
		CardSerial: "12345678", CardType: "piv", KeyAlgorithm: "ECDSA P-256",
		KeySHA256: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
		Date:      time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), Organization: "Lanyard at example.test",
	}
}

func TestRenderSaysWhatItMust(t *testing.T) {
	for _, kind := range []string{docform.CertificateRequest, docform.CertificateForm} {
		t.Run(kind, func(t *testing.T) {
			f := form(kind)
			if kind == docform.CertificateForm {
				f.Serial, f.NotBefore, f.NotAfter = "7f3a", f.Date, f.Date.AddDate(2, 0, 0)
			}
			pdf, err := docform.Render(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[len(pdf)-32:], []byte("%%EOF")) {
				t.Fatalf("not a PDF: %q … %q", pdf[:16], pdf[len(pdf)-16:])
			}
			text := pdfText(pdf)
			want := []string{f.Title(), "Alice Example", "alice", "alice@example.test", "alice@corp.example.test",
				"Document signing (document-signing)", "CN=Alice Example", "12345678 (piv), slot 9c", "ECDSA P-256",
				"0F1E 2D3C 4B5A 6978", "Date: 2026-03-14", "Applicant's signature (Alice Example)", "Document 42"}
			if kind == docform.CertificateForm {
				want = append(want, "7f3a", "2026-03-14 to 2028-03-14", "Document officer's signature")
			} else {
				want = append(want, "Approver's signature (CA)")
			}
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("the %s does not say %q; its text:\n%s", kind, w, text)
				}
			}
			// The whole fingerprint is there, in groups of four.
			groups := strings.Fields(docform.Fingerprint(f.KeySHA256))
			if len(groups) != 16 {
				t.Fatalf("fingerprint groups %v", groups)
			}
			for _, g := range groups {
				if !strings.Contains(text, g) {
					t.Errorf("fingerprint group %s missing", g)
				}
			}
			// The same form renders to the same bytes: a signature made over
			// one download verifies against the next.
			again, err := docform.Render(form(kind))
			if err != nil {
				t.Fatal(err)
			}
			if kind == docform.CertificateRequest && !bytes.Equal(pdf, again) {
				t.Error("rendering the same form twice gave different bytes")
			}
		})
	}
}

func TestRenderNonLatinAndEmpty(t *testing.T) {
	f := form(docform.CertificateForm)
	f.DisplayName, f.Email, f.UPN = "Jürgen Müller", "", ""
	pdf, err := docform.Render(f)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(pdf)
	// cp1252 keeps German umlauts; empty fields show a dash.
	if !strings.Contains(text, "J\xfcrgen M\xfcller") {
		t.Errorf("name not rendered in cp1252: %q", text)
	}
	if _, err := docform.Render(&docform.Form{Kind: "other"}); err == nil {
		t.Error("an unknown kind rendered")
	}
}
