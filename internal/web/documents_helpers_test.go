package web_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
	"github.com/smallstep/pkcs7"
)

// mailbox records the notifications the service hands to its Notifier.
type mailbox struct {
	mu   sync.Mutex
	docs []sentDocument
}

type sentDocument struct {
	to []string
	ev documents.DocumentEvent
}

func (m *mailbox) RandomPIN(context.Context, []string, *lanyard.User, *lanyard.Card, string) error {
	return nil
}
func (m *mailbox) QueueRandomPIN(lanyard.Tx, []string, *lanyard.User, *lanyard.Card, string) (int64, error) {
	return 0, nil
}
func (m *mailbox) Wake()                                                             {}
func (m *mailbox) CardIssue(context.Context, []string, cardops.CardIssueEvent) error { return nil }
func (m *mailbox) CardState(context.Context, []string, cardops.CardStateEvent) error { return nil }
func (m *mailbox) AirCardCode(context.Context, []string, *lanyard.User, *lanyard.Card, string) error {
	return nil
}
func (m *mailbox) Document(_ context.Context, to []string, ev documents.DocumentEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.docs = append(m.docs, sentDocument{to: to, ev: ev})
	return nil
}

func (m *mailbox) documents() []sentDocument {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]sentDocument(nil), m.docs...)
}

// docEnv is a real server with a pending card of alice's whose slots need
// documents: 9d (secure-email, issued, not written) a certificate form,
// 9e (a template that needs CA approval, request pending) a certificate
// request form. alice and bob hold document signing certificates issued
// by the built-in CA for software keys (as a card's key would be).
type docEnv struct {
	*env
	mail                      *mailbox
	alice, bob, officer, oper string // tokens
	aliceUser                 *lanyard.User
	card                      *lanyard.Card
	formKey, requestKey       []byte // SPKI DER of the slots' keys
	request                   int64  // 9e's CA request
	aliceSigner, bobSigner    signer
	aliceMailCert             signer // secure-email: not for document signing
}

// signer is a software key with its certificate.
type signer struct {
	key    crypto.Signer
	cert   *x509.Certificate
	serial string
}

func mustDocEnv(t *testing.T) *docEnv {
	t.Helper()
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	mail := &mailbox{}
	s := webtest.StartWith(t, st, webtest.Options{Notifier: mail})
	e := &docEnv{env: &env{t: t, url: s.URL, admin: s.AdminToken, svc: s.Service, store: st, srv: s.Web}, mail: mail}
	e.alice, e.bob = e.mustUser("alice"), e.mustUser("bob")
	e.officer, e.oper = e.mustUser("officer", lanyard.RoleDocumentOfficer), e.mustUser("oper", lanyard.RoleOperator)
	e.must(200, "GET", "/api/v1/users/alice", e.admin, nil).json(&e.aliceUser)

	e.aliceSigner = e.mustSigner(e.alice, "document-signing")
	e.bobSigner = e.mustSigner(e.bob, "document-signing")
	e.aliceMailCert = e.mustSigner(e.alice, "secure-email")

	// A template that needs CA approval, for the certificate request.
	tpl := map[string]any{"name": "approved-signing", "display_name": "Approved signing", "ca": "builtin", "key_algorithms": []string{"ecp256"},
		"validity_days": 365, "key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"document_signing"},
		"subject": map[string]any{"common_name": "{display_name}"}, "slot": "9e", "requires_ca_approval": true, "requires_form_approval": true}
	e.must(201, "POST", "/api/v1/templates", e.admin, tpl)

	ctx := context.Background()
	e.card = &lanyard.Card{Serial: "D0C5", CardType: "piv", OwnerID: e.aliceUser.ID, State: lanyard.CardPending, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	formKey := mustKey(t)
	e.formKey, _ = x509.MarshalPKIXPublicKey(formKey.Public())
	var cert apiv1.IssueResult
	e.must(201, "POST", "/api/v1/certificates", e.alice, map[string]any{"template": "secure-email", "csr": csrPEM(t, formKey)}).json(&cert)
	reqKey := mustKey(t)
	e.requestKey, _ = x509.MarshalPKIXPublicKey(reqKey.Public())
	// The slot's CA request, as the Issue card workflow queues it for
	// alice's own card (the certificate API refuses a template whose form
	// needs approval: only a card issue records one).
	sum := sha256.Sum256(e.requestKey)
	queued := &lanyard.CertRequest{CA: "builtin", Template: "approved-signing", UserID: e.aliceUser.ID, RequestedBy: e.aliceUser.ID,
		PublicKey: e.requestKey, KeySHA256: hex.EncodeToString(sum[:]), Subject: e.aliceUser.DisplayName, Status: lanyard.RequestPending, CreatedAt: time.Now()}
	err = st.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateCard(e.card); err != nil {
			return err
		}
		rec, err := tx.CertificateBySerial("builtin", cert.Certificate.Serial)
		if err != nil {
			return err
		}
		rec.CardID = e.card.ID
		if err := tx.UpdateCertificate(rec); err != nil {
			return err
		}
		// The pending issue operation records the slot's CA request, as
		// the Issue card workflow does.
		// Its plan says the policy's documents check asks for the signed
		// certificate request form before the CA approves.
		plan := map[string]any{"slots": []map[string]any{
			{"slot": "9d", "template": "secure-email", "need_form": true},
			{"slot": "9e", "template": "approved-signing", "need_ca": true, "need_form": true, "signed_request": true}}}
		op := &lanyard.Operation{Kind: lanyard.OpIssue, CardID: e.card.ID, UserID: e.aliceUser.ID, State: lanyard.OpPending, Step: "done",
			Data: []byte(`{}`), CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := tx.CreateOperation(op); err != nil {
			return err
		}
		// The request names the issue, and the issue the request.
		queued.OperationID = op.ID
		if err := tx.CreateRequest(queued); err != nil {
			return err
		}
		prev := op.UpdatedAt
		op.Data, _ = json.Marshal(map[string]any{"certs": map[string]string{"9d": rec.Serial}, "requests": map[string]int64{"9e": queued.ID}, "plan": plan})
		op.UpdatedAt = time.Now()
		if err := tx.UpdateOperation(op, prev); err != nil {
			return err
		}
		if err := e.svc.Documents.RequireDocuments(tx, e.card, e.aliceUser, "9d", "secure-email", lanyard.DocCertificateForm); err != nil {
			return err
		}
		return e.svc.Documents.RequireDocuments(tx, e.card, e.aliceUser, "9e", "approved-signing", lanyard.DocCertificateRequest, lanyard.DocCertificateForm)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.request = queued.ID
	return e
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustSigner has the built-in CA certify a new software key for the
// token's user with template, through the API.
func (e *docEnv) mustSigner(token, template string) signer {
	e.t.Helper()
	k := mustKey(e.t)
	var res apiv1.IssueResult
	e.must(201, "POST", "/api/v1/certificates", token, map[string]any{"template": template, "csr": csrPEM(e.t, k)}).json(&res)
	b, _ := pem.Decode([]byte(res.PEM))
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	return signer{key: k, cert: cert, serial: res.Certificate.Serial}
}

// sign makes a detached CMS signature over content (DER).
func (s signer) sign(t *testing.T, content []byte, digest asn1.ObjectIdentifier) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(digest)
	if err := sd.AddSigner(s.cert, s.key, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// documents returns the card's documents as the token's user sees them,
// by slot and kind ("9d/certificate_form").
func (e *docEnv) documents(token string) map[string]*apiv1.DocumentView {
	e.t.Helper()
	var list []*apiv1.DocumentView
	e.must(200, "GET", fmt.Sprintf("/api/v1/cards/%d/documents", e.card.ID), token, nil).json(&list)
	out := map[string]*apiv1.DocumentView{}
	for _, d := range list {
		out[d.Slot+"/"+string(d.Kind)] = d
	}
	return out
}

// upload posts a file as the document's next version.
func (e *docEnv) upload(token string, docID int64, name, contentType string, body []byte) *resp {
	e.t.Helper()
	return e.do("POST", fmt.Sprintf("/api/v1/documents/%d/uploads?name=%s", docID, url.QueryEscape(name)), token, body, "Content-Type", contentType)
}

// form downloads a document's form.
func (e *docEnv) form(token string, docID int64) []byte {
	e.t.Helper()
	r := e.do("GET", fmt.Sprintf("/api/v1/documents/%d/form.pdf", docID), token, nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/pdf" {
		e.t.Fatalf("form of document %d: %d %s: %s", docID, r.status, r.header.Get("Content-Type"), r.body)
	}
	return r.body
}

// fingerprint is what the forms print for a key: its SPKI's SHA-256 in
// upper-case groups of four.
func fingerprint(spki []byte) []string {
	sum := sha256.Sum256(spki)
	h := hex.EncodeToString(sum[:])
	var out []string
	for i := 0; i < len(h); i += 4 {
		out = append(out, strings.ToUpper(h[i:i+4]))
	}
	return out
}
