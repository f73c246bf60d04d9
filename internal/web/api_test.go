package web_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web"
)

func csrPEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func p256(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e := mustEnv(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.must(200, "GET", "/api/v1/openapi.json", "", nil).json(&doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
			var op struct {
				Summary   string                     `json:"summary"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			json.Unmarshal(raw, &op)
			if op.Summary == "" || len(op.Responses) < 2 {
				t.Errorf("%s %s: summary %q, %d responses", m, p, op.Summary, len(op.Responses))
			}
		}
	}
	routes := e.srv.Routes()
	for _, r := range routes {
		m, p, _ := strings.Cut(r, " ")
		if !documented[m+" "+web.OpenAPIPath(p)] {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
		delete(documented, m+" "+web.OpenAPIPath(p))
	}
	for d := range documented {
		t.Errorf("OpenAPI documents %s, which no route serves", d)
	}
	if len(routes) < 40 {
		t.Errorf("only %d routes", len(routes))
	}
}

func TestIssueRevokeCRLOCSP(t *testing.T) {
	e := mustEnv(t)
	bob := e.mustUser("bob")
	key := p256(t)
	var res apiv1.IssueResult
	// A user may issue for themselves with a template in their policy.
	e.must(201, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "secure-email", CSR: csrPEM(t, key)}).json(&res)
	block, _ := pem.Decode([]byte(res.PEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "User bob" || res.Certificate.Status != lanyard.CertValid {
		t.Fatalf("subject %q status %s", cert.Subject.CommonName, res.Certificate.Status)
	}
	if len(cert.CRLDistributionPoints) != 1 || len(cert.OCSPServer) != 1 {
		t.Fatalf("CRL DP %v OCSP %v", cert.CRLDistributionPoints, cert.OCSPServer)
	}
	// Another user cannot see or revoke it.
	eve := e.mustUser("eve")
	e.must(404, "GET", "/api/v1/certificates/"+res.Certificate.Serial, eve, nil)
	e.must(404, "POST", "/api/v1/certificates/"+res.Certificate.Serial+"/revoke", eve, map[string]string{"reason": "key_compromise"})

	var chainInfo []*apiv1.CAInfo
	e.must(200, "GET", "/api/v1/cas", bob, nil).json(&chainInfo)
	issuerBlock, _ := pem.Decode([]byte(chainInfo[0].Chain))
	issuer, _ := x509.ParseCertificate(issuerBlock.Bytes)

	status := func() *ocsp.Response {
		req, _ := ocsp.CreateRequest(cert, issuer, nil)
		httpReq, _ := http.NewRequest("POST", cert.OCSPServer[0], strings.NewReader(string(req)))
		httpReq.Header.Set("Content-Type", "application/ocsp-request")
		r, err := http.DefaultClient.Do(httpReq)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		buf := make([]byte, 0, 4096)
		for {
			n, err := r.Body.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				break
			}
		}
		resp, err := ocsp.ParseResponse(buf, issuer)
		if err != nil {
			t.Fatalf("OCSP response: %v", err)
		}
		return resp
	}
	if s := status(); s.Status != ocsp.Good {
		t.Fatalf("OCSP before revoke: %d", s.Status)
	}
	var revoked lanyard.Certificate
	e.must(200, "POST", "/api/v1/certificates/"+res.Certificate.Serial+"/revoke", e.admin, map[string]string{"reason": "key_compromise"}).json(&revoked)
	if revoked.Status != lanyard.CertRevoked || revoked.ReasonName != "key_compromise" {
		t.Fatalf("revoked: %+v", revoked)
	}
	e.must(409, "POST", "/api/v1/certificates/"+res.Certificate.Serial+"/revoke", e.admin, map[string]string{"reason": "superseded"})
	if s := status(); s.Status != ocsp.Revoked || s.RevocationReason != ocsp.KeyCompromise {
		t.Fatalf("OCSP after revoke: status %d reason %d", s.Status, s.RevocationReason)
	}
	crlResp := e.must(200, "GET", strings.TrimPrefix(cert.CRLDistributionPoints[0], e.url), "", nil)
	crl, err := x509.ParseRevocationList(crlResp.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Fatal(err)
	}
	found := slices.ContainsFunc(crl.RevokedCertificateEntries, func(r x509.RevocationListEntry) bool {
		return r.SerialNumber.Cmp(cert.SerialNumber) == 0 && r.ReasonCode == 1
	})
	if !found {
		t.Fatalf("serial %x not in CRL", cert.SerialNumber)
	}
	// An unknown serial answers "unknown", not "good".
	fake := *cert
	fake.SerialNumber = big.NewInt(12345)
	req, _ := ocsp.CreateRequest(&fake, issuer, nil)
	r := e.do("POST", "/ocsp", "", req, "Content-Type", "application/ocsp-request")
	resp, err := ocsp.ParseResponse(r.body, issuer)
	if err != nil || resp.Status != ocsp.Unknown {
		t.Fatalf("unknown serial: %v %v", resp, err)
	}
	// A request that does not parse, and one about a CA not served here,
	// get OCSP error responses (RFC 6960 2.3), not HTTP errors.
	r = e.do("POST", "/ocsp", "", "garbage", "Content-Type", "application/ocsp-request")
	if _, err := ocsp.ParseResponse(r.body, nil); r.status != 200 || !isOCSPError(err, ocsp.Malformed) {
		t.Fatalf("garbage OCSP: %d %v", r.status, err)
	}
	other, _ := selfSigned(t)
	req, _ = ocsp.CreateRequest(&fake, other, nil)
	r = e.do("POST", "/ocsp", "", req, "Content-Type", "application/ocsp-request")
	if _, err := ocsp.ParseResponse(r.body, nil); r.status != 200 || !isOCSPError(err, ocsp.Unauthorized) {
		t.Fatalf("foreign CA OCSP: %d %v", r.status, err)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	e := mustEnv(t)
	user := e.mustUser("carol")
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	goodKey := p256(t)
	goodCSR := csrPEM(t, goodKey)
	spki, _ := x509.MarshalPKIXPublicKey(goodKey.Public())
	goodSPKI := base64.StdEncoding.EncodeToString(spki)
	badSig := []byte(goodCSR)
	// Flip one character inside the base64 body (the signature is at the end).
	badSig[len(badSig)-40] ^= 0x01
	cases := []struct {
		name, method, path, token string
		body                      any
		hdr                       []string
		status                    int
		code                      string
	}{
		{"malformed JSON", "POST", "/api/v1/users", e.admin, `{"login": "x",`, nil, 400, "invalid"},
		{"unknown field", "POST", "/api/v1/users", e.admin, `{"login": "x", "shoe_size": 9}`, nil, 400, "invalid"},
		{"two values", "POST", "/api/v1/users", e.admin, `{"login": "x"} {"login": "y"}`, nil, 400, "invalid"},
		{"wrong type", "POST", "/api/v1/users", e.admin, `{"login": 5}`, nil, 400, "invalid"},
		{"empty body", "POST", "/api/v1/users", e.admin, ``, nil, 400, "invalid"},
		{"oversize", "POST", "/api/v1/users", e.admin, `{"login": "` + strings.Repeat("a", 2<<20) + `"}`, nil, 413, "too_large"},
		{"wrong content type", "POST", "/api/v1/users", e.admin, `{"login": "x"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"bad login", "POST", "/api/v1/users", e.admin, map[string]string{"login": "a b"}, nil, 400, "invalid"},
		{"bad email", "POST", "/api/v1/users", e.admin, map[string]string{"login": "x", "email": "not-an-address"}, nil, 400, "invalid"},
		{"unknown role", "POST", "/api/v1/users", e.admin, map[string]any{"login": "x", "roles": []string{"king"}}, nil, 400, "invalid"},
		{"no token", "POST", "/api/v1/users", "", map[string]string{"login": "x"}, nil, 401, "unauthenticated"},
		{"bad token", "POST", "/api/v1/users", "lyd_bogus", map[string]string{"login": "x"}, nil, 401, "unauthenticated"},
		{"missing role", "POST", "/api/v1/templates", user, lanyard.Template{Name: "x"}, nil, 403, "forbidden"},
		{"user grants admin", "POST", "/api/v1/users", user, map[string]any{"login": "x"}, nil, 403, "forbidden"},
		{"invalid CSR", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "secure-email", User: "carol", CSR: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}, nil, 400, "invalid_csr"},
		{"CSR bad signature", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "secure-email", User: "carol", CSR: string(badSig)}, nil, 400, "invalid_csr"},
		{"CSR key too weak", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "secure-email", User: "carol", CSR: csrPEM(t, rsaKey)}, nil, 422, "key_not_allowed"},
		{"CSR key not allowed", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "secure-email", User: "carol", CSR: csrPEM(t, edKey)}, nil, 422, "key_not_allowed"},
		{"CSR and key both", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "secure-email", CSR: goodCSR, PublicKey: "x"}, nil, 400, "invalid"},
		{"unknown template", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "nope", CSR: goodCSR}, nil, 404, "not_found"},
		{"card-keys-only template for a CSR", "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "smartcard-logon", CSR: goodCSR}, nil, 403, "forbidden"},
		{"bare public key from a user", "POST", "/api/v1/certificates", user, apiv1.IssueInput{Template: "secure-email", PublicKey: goodSPKI}, nil, 403, "forbidden"},
		{"template OCSP signing", "POST", "/api/v1/templates", e.admin, map[string]any{"name": "t3", "key_algorithms": []string{"ecp256"}, "validity_days": 30, "key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"ocsp_signing"}, "subject": map[string]any{"common_name": "{login}"}}, nil, 400, "invalid"},
		{"template any purpose", "POST", "/api/v1/templates", e.admin, map[string]any{"name": "t4", "key_algorithms": []string{"ecp256"}, "validity_days": 30, "key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"client_auth", "any"}, "subject": map[string]any{"common_name": "{login}"}}, nil, 400, "invalid"},
		{"issue for another user", "POST", "/api/v1/certificates", user, apiv1.IssueInput{Template: "secure-email", User: "admin", CSR: goodCSR}, nil, 403, "forbidden"},
		{"template bad EKU", "POST", "/api/v1/templates", e.admin, map[string]any{"name": "t1", "key_algorithms": []string{"ecp256"}, "validity_days": 30, "key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"telepathy"}, "subject": map[string]any{"common_name": "{login}"}}, nil, 400, "invalid"},
		{"template placeholder", "POST", "/api/v1/templates", e.admin, map[string]any{"name": "t2", "key_algorithms": []string{"ecp256"}, "validity_days": 30, "key_usage": []string{"digital_signature"}, "subject": map[string]any{"common_name": "{shoe}"}}, nil, 400, "invalid"},
		{"policy unknown template", "POST", "/api/v1/policies", e.admin, map[string]any{"name": "p1", "settings": map[string]any{"certificates": map[string]any{"required_templates": []string{"ghost"}}}}, nil, 400, "invalid"},
		{"card type EC on TPM", "POST", "/api/v1/card-types", e.admin, map[string]any{"name": "c1", "kind": "tpm_virtual_card", "admin_key_kind": "3des", "admin_key_mode": "random", "key_algorithms": []string{"ecp256"}, "pin_policy": map[string]int{"min_length": 6, "max_length": 8, "pin_retries": 3, "puk_retries": 3}}, nil, 400, "invalid"},
		{"card type short PIN", "POST", "/api/v1/card-types", e.admin, map[string]any{"name": "c2", "kind": "piv", "admin_key_kind": "aes128", "admin_key_mode": "default", "key_algorithms": []string{"ecp256"}, "pin_policy": map[string]int{"min_length": 6, "max_length": 8, "pin_retries": 3, "puk_retries": 3}, "default_user_pin": "123"}, nil, 400, "invalid"},
		{"bad revocation reason", "POST", "/api/v1/certificates/1/revoke", e.admin, map[string]string{"reason": "bored"}, nil, 400, "invalid"},
		{"bad serial", "POST", "/api/v1/certificates/xyz/revoke", e.admin, map[string]string{"reason": "superseded"}, nil, 400, "invalid"},
		{"bad request id", "POST", "/api/v1/requests/abc/approve", e.admin, nil, nil, 400, "invalid"},
		{"bad ttl", "POST", "/api/v1/tokens", e.admin, map[string]string{"ttl": "forever"}, nil, 400, "invalid"},
		{"unknown route", "GET", "/api/v1/nothing", e.admin, nil, nil, 404, "not_found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.auditCount()
			r := e.do(c.method, c.path, c.token, c.body, c.hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			p := r.problem()
			if p.Code != c.code || p.Detail == "" || p.Status != c.status || !strings.HasSuffix(p.Type, "/"+c.code) {
				t.Fatalf("problem %+v, want code %s", p, c.code)
			}
			if after := e.auditCount(); after != before {
				t.Fatalf("audit events %d → %d: bad input changed state", before, after)
			}
		})
	}
	// Nothing named "x" was created by any of the above.
	e.must(404, "GET", "/api/v1/users/x", e.admin, nil)
}

func TestPendingApprovalQueue(t *testing.T) {
	e := mustEnv(t)
	e.mustUser("dave")
	manager := e.mustUser("maria", lanyard.RoleCAManager)
	operator := e.mustUser("otto", lanyard.RoleOperator)
	e.must(201, "POST", "/api/v1/templates", e.admin, map[string]any{
		"name": "esign", "key_algorithms": []string{"ecp256"}, "validity_days": 365,
		"key_usage": []string{"digital_signature", "content_commitment"}, "ext_key_usage": []string{"document_signing"},
		"subject": map[string]any{"common_name": "{display_name}"}, "requires_ca_approval": true,
	})
	var res apiv1.IssueResult
	issue := func() *apiv1.IssueResult {
		var res apiv1.IssueResult
		e.must(202, "POST", "/api/v1/certificates", operator, apiv1.IssueInput{Template: "esign", User: "dave", CSR: csrPEM(t, p256(t))}).json(&res)
		if res.Request == nil || res.Certificate != nil || res.Request.Status != lanyard.RequestPending {
			t.Fatalf("want a pending request, got %+v", res)
		}
		return &res
	}
	first, second := issue(), issue()
	var pending []*lanyard.CertRequest
	e.must(200, "GET", "/api/v1/requests?status=pending", manager, nil).json(&pending)
	if len(pending) != 2 {
		t.Fatalf("pending = %d", len(pending))
	}
	// Operators cannot decide; CA managers can.
	e.must(403, "POST", "/api/v1/requests/"+itoa(first.Request.ID)+"/approve", operator, Decision("ok"))
	e.must(200, "POST", "/api/v1/requests/"+itoa(first.Request.ID)+"/approve", manager, Decision("identity checked")).json(&res)
	if res.Certificate == nil || res.Certificate.RequestID != first.Request.ID || !strings.Contains(res.PEM, "BEGIN CERTIFICATE") {
		t.Fatalf("approve: %+v", res)
	}
	e.must(409, "POST", "/api/v1/requests/"+itoa(first.Request.ID)+"/reject", manager, Decision("too late"))
	var rejected lanyard.CertRequest
	e.must(200, "POST", "/api/v1/requests/"+itoa(second.Request.ID)+"/reject", manager, Decision("no documents")).json(&rejected)
	if rejected.Status != lanyard.RequestRejected || rejected.Comment != "no documents" {
		t.Fatalf("reject: %+v", rejected)
	}
	e.must(200, "GET", "/api/v1/requests?status=pending", manager, nil).json(&pending)
	if len(pending) != 0 {
		t.Fatalf("pending after decisions = %d", len(pending))
	}
}

func isOCSPError(err error, want ocsp.ResponseStatus) bool {
	re, ok := err.(ocsp.ResponseError)
	return ok && re.Status == want
}

// selfSigned returns a CA certificate unrelated to the server's.
func selfSigned(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key := p256(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func Decision(c string) map[string]string { return map[string]string{"comment": c} }

func itoa(n int64) string { return big.NewInt(n).String() }
