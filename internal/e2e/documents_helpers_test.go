//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/smallstep/pkcs7"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// The documents check (issue #5) on the real stack: the helpers of
// documents_e2e_test.go. Mail goes over real SMTP to a mailpit process of
// the test's own (started from the binary scripts/mailpit-test.sh built,
// which LANYARD_TEST_SMTP names), so that the test sees exactly the mail
// it caused and can stop and start the server.

// mailServer is the test's own mailpit.
type mailServer struct {
	t    *testing.T
	env  *mailpittest.Env
	smtp string // host:port
	api  string
	stop func()
}

// startMail starts a mailpit on a free loopback port and points Lanyard's
// notification settings at it: STARTTLS with the certificate of the test
// CA, which the settings trust (PINs, codes and documents go only over
// TLS).
func (s *stack) startMail() *mailServer {
	s.t.Helper()
	env := mailpittest.MustEnv(s.t)
	m := &mailServer{t: s.t, env: env, smtp: mailpittest.FreeAddr(s.t)}
	m.api, m.stop = env.StartSecure(s.t, m.smtp)
	s.mailSettings(m.smtp, env.CAPEM(s.t))
	return m
}

// restart starts mailpit again on the same SMTP address (a fresh
// mailbox, a new API address).
func (m *mailServer) restart() {
	m.t.Helper()
	m.stop()
	m.api, m.stop = m.env.StartSecure(m.t, m.smtp)
}

// mailSettings turns notifications on with the STARTTLS server at addr
// whose certificate ca (PEM) signed.
func (s *stack) mailSettings(addr, ca string) {
	s.t.Helper()
	_, port := mailpittest.HostPort(s.t, addr)
	in := apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: apiv1.SMTPStartTLS, CA: ca, From: "Lanyard <lanyard@example.com>"}
	if _, err := s.admin.Do(context.Background(), "PUT", "/api/v1/notifications/settings", in, nil); err != nil {
		s.t.Fatalf("PUT /notifications/settings: %v", err)
	}
}

// deliver sends the due mail now (webtest runs no worker).
func (s *stack) deliver() {
	s.t.Helper()
	if _, err := s.srv.Mailer.DeliverDue(context.Background()); err != nil {
		s.t.Fatalf("delivering the outbox: %v", err)
	}
}

// mail delivers the outbox and returns the messages to addr once there
// are exactly n.
func (s *stack) mail(m *mailServer, to string, n int) []*mailpittest.Message {
	s.t.Helper()
	s.deliver()
	got := mailpittest.Wait(s.t, m.api, to, n)
	if len(got) != n {
		var subj []string
		for _, g := range got {
			subj = append(subj, g.Subject)
		}
		s.t.Fatalf("%d messages to %s, want %d: %q", len(got), to, n, subj)
	}
	return got
}

// wantMail checks one message: its only recipient, its subject and what
// its text must say.
func wantMail(t *testing.T, m *mailpittest.Message, to, subject string, text ...string) {
	t.Helper()
	if r := m.Recipients(); !slices.Equal(r, []string{to}) {
		t.Errorf("%q went to %v, want only %s", m.Subject, r, to)
	}
	if m.Subject != subject {
		t.Errorf("subject %q, want %q", m.Subject, subject)
	}
	if m.From.Address != "lanyard@example.com" {
		t.Errorf("%q comes from %q", m.Subject, m.From.Address)
	}
	for _, w := range text {
		if !strings.Contains(m.Text, w) {
			t.Errorf("%q lacks %q:\n%s", m.Subject, w, m.Text)
		}
	}
}

// outbox lists the outbox as the administrator.
func (s *stack) outbox(state string) []*lanyard.MailMessage {
	s.t.Helper()
	var list []*lanyard.MailMessage
	if err := s.admin.Get(context.Background(), "/api/v1/notifications/outbox?state="+state, &list); err != nil {
		s.t.Fatal(err)
	}
	return list
}

// docKey names a document by slot and kind, e.g. "9a/certificate_form".
func docKey(d *apiv1.DocumentView) string { return d.Slot + "/" + string(d.Kind) }

// documents returns a card's documents as c sees them, by docKey.
func (s *stack) documents(c *client.Client, cardID int64) map[string]*apiv1.DocumentView {
	s.t.Helper()
	var list []*apiv1.DocumentView
	if err := c.Get(context.Background(), "/api/v1/cards/"+itoa(cardID)+"/documents", &list); err != nil {
		s.t.Fatalf("GET the documents of card %d: %v", cardID, err)
	}
	out := map[string]*apiv1.DocumentView{}
	for _, d := range list {
		out[docKey(d)] = d
	}
	return out
}

func (s *stack) document(c *client.Client, id int64) *apiv1.DocumentView {
	s.t.Helper()
	var d apiv1.DocumentView
	if err := c.Get(context.Background(), "/api/v1/documents/"+itoa(id), &d); err != nil {
		s.t.Fatalf("GET document %d: %v", id, err)
	}
	return &d
}

// raw does an API request with a bearer token and a raw body.
func (s *stack) raw(method, path, token, contentType string, body []byte) (int, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// form downloads the PDF form of a card slot's document as the token's
// user and checks that it is one.
func (s *stack) form(token string, cardID int64, slot string, kind lanyard.DocumentKind) []byte {
	s.t.Helper()
	code, b := s.raw("GET", "/api/v1/cards/"+itoa(cardID)+"/documents/"+slot+"/"+string(kind)+".pdf", token, "", nil)
	if code != 200 || !bytes.HasPrefix(b, []byte("%PDF-")) {
		s.t.Fatalf("the %s form of slot %s: %d %.200q", kind, slot, code, b)
	}
	return b
}

// upload posts a file to a document as the token's user.
func (s *stack) upload(token string, docID int64, name, contentType string, body []byte) (int, string) {
	s.t.Helper()
	code, b := s.raw("POST", "/api/v1/documents/"+itoa(docID)+"/uploads?name="+url.QueryEscape(name), token, contentType, body)
	return code, string(b)
}

// mustUpload uploads and expects it accepted.
func (s *stack) mustUpload(token string, docID int64, name, contentType string, body []byte) {
	s.t.Helper()
	if code, b := s.upload(token, docID, name, contentType, body); code != 201 {
		s.t.Fatalf("uploading %s to document %d: %d %s", name, docID, code, b)
	}
}

// signPDF is the form "printed, signed and scanned back" as a PDF: the
// form's bytes with an incremental update appended.
func signPDF(form []byte, who string) []byte {
	return append(bytes.Clone(form), []byte("\n% signed by "+who+"\n%%EOF\n")...)
}

// signer is a software key with a document signing certificate the
// built-in CA issued to a user through the API.
type signer struct {
	key    crypto.Signer
	cert   *x509.Certificate
	serial string
}

func (s *stack) signer(c *client.Client) signer {
	s.t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	// A CSR: a user proves possession of the key (issue 13).
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, k)
	if err != nil {
		s.t.Fatal(err)
	}
	var res apiv1.IssueResult
	in := map[string]any{"template": "document-signing", "csr": base64.StdEncoding.EncodeToString(csr)}
	if _, err := c.Post(context.Background(), "/api/v1/certificates", in, &res); err != nil {
		s.t.Fatalf("a document signing certificate: %v", err)
	}
	b, _ := pem.Decode([]byte(res.PEM))
	if b == nil {
		s.t.Fatalf("the issue result holds no certificate: %+v", res)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		s.t.Fatal(err)
	}
	return signer{key: k, cert: cert, serial: res.Certificate.Serial}
}

// sign makes a detached CMS signature (DER, SHA-256) over content.
func (sg signer) sign(t *testing.T, content []byte) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(sg.cert, sg.key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// issuePending issues the card in the vpcd reader through the API and
// expects the issue to go pending.
func (s *stack) issuePending(c *client.Client, pin string, templates ...string) *apiv1.IssueCardResult {
	s.t.Helper()
	var res apiv1.IssueCardResult
	in := apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: pin, Templates: templates}
	if _, err := c.Post(context.Background(), "/api/v1/issue", in, &res); err != nil {
		s.t.Fatalf("POST /issue: %v", err)
	}
	if res.State != "pending" || res.Card == nil || res.Card.State != lanyard.CardPending {
		s.t.Fatalf("the issue ended %s (card %+v), want pending", res.State, res.Card)
	}
	return &res
}

// cert finds the card's certificate line of slot.
func (s *stack) cert(cardID int64, slot string) *apiv1.CardCertificate {
	s.t.Helper()
	v := s.cardView(cardID)
	for _, c := range v.Certificates {
		if c.Slot == slot {
			return c
		}
	}
	s.t.Fatalf("card %d lists no certificate in slot %s: %+v", cardID, slot, v.Certificates)
	return nil
}

// decide posts a decision (approve or reject) as c to path.
func decide(t *testing.T, c *client.Client, path, comment string, out any) {
	t.Helper()
	if _, err := c.Post(context.Background(), path, map[string]string{"comment": comment}, out); err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
}

// problem is an API error's message (problem+json detail).
func problem(body string) string {
	var p struct{ Detail, Title string }
	if json.Unmarshal([]byte(body), &p) == nil && p.Detail != "" {
		return p.Detail
	}
	return body
}

// clickText clicks the element under sel whose text is text, the way a
// person does (chromedp.Click on it).
func (b *browser) clickText(what, sel, text string) {
	b.t.Helper()
	b.WaitFor(what, `[...document.querySelectorAll(`+uitest.JSString(sel)+`)].some(e => e.textContent.trim() === `+uitest.JSString(text)+`)`)
	uitest.Eval[bool](b.Browser, `(() => { document.querySelectorAll('[data-e2e-click]').forEach(e => e.removeAttribute('data-e2e-click'));
		[...document.querySelectorAll(`+uitest.JSString(sel)+`)].find(e => e.textContent.trim() === `+uitest.JSString(text)+`).setAttribute('data-e2e-click', ''); return true })()`)
	b.Run(what, chromedp.Click(chromedp.CSS(`[data-e2e-click]`)))
}

// writeFile writes a file for the browser to upload.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
