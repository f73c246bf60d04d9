package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Issue 13, item 3, end to end over the REST API: a CA manager who asks
// for a certificate for alice, on a key of their own, cannot approve it
// (four eyes were checked against the owner only); a certificate asked for
// on another's behalf waits for approval although its template needs
// none; another CA manager approves it. The owner approves nothing either.
func TestFourEyesOnBehalfRequest(t *testing.T) {
	e := mustEnv(t)
	alice := e.mustUser("alice")
	maria := e.mustUser("maria", lanyard.RoleCAManager, lanyard.RoleUser)
	carol := e.mustUser("carol", lanyard.RoleCAManager, lanyard.RoleUser)

	var res apiv1.IssueResult
	e.must(202, "POST", "/api/v1/certificates", maria, apiv1.IssueInput{Template: "secure-email", User: "alice", CSR: csrPEM(t, p256(t))}).json(&res)
	if res.Request == nil || res.Certificate != nil || res.Request.Status != lanyard.RequestPending {
		t.Fatalf("a certificate asked for alice by maria: %+v", res)
	}
	id := itoa(res.Request.ID)
	p := e.must(403, "POST", "/api/v1/requests/"+id+"/approve", maria, Decision("looks fine")).problem()
	if !strings.Contains(p.Detail, "you asked for request") {
		t.Errorf("refusal: %q", p.Detail)
	}
	e.must(403, "POST", "/api/v1/requests/"+id+"/approve", alice, Decision("mine"))
	e.must(200, "POST", "/api/v1/requests/"+id+"/approve", carol, Decision("identity checked")).json(&res)
	if res.Certificate == nil || res.Certificate.RequestID != res.Request.ID {
		t.Fatalf("approved by another CA manager: %+v", res)
	}
	var req lanyard.CertRequest
	// The requester may still withdraw a request of their own: rejecting
	// issues nothing.
	res = apiv1.IssueResult{}
	e.must(202, "POST", "/api/v1/certificates", maria, apiv1.IssueInput{Template: "secure-email", User: "alice", CSR: csrPEM(t, p256(t))}).json(&res)
	e.must(200, "POST", "/api/v1/requests/"+itoa(res.Request.ID)+"/reject", maria, Decision("wrong key")).json(&req)
	if req.Status != lanyard.RequestRejected {
		t.Fatalf("withdrawn: %+v", req)
	}
}

// Issue 13, item 4, end to end: a plain user cannot get a smart card
// logon certificate for a software key; staff cannot issue a
// card-keys-only template through the certificate API either; a template
// for any key still works, under the policy's documents check as on a
// card.
func TestCardKeysOnlyOverAPI(t *testing.T) {
	e := mustEnv(t)
	bob := e.mustUser("bob")

	p := e.must(403, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "smartcard-logon", CSR: csrPEM(t, p256(t))}).problem()
	if !strings.Contains(p.Detail, "generated on a card") {
		t.Errorf("refusal: %q", p.Detail)
	}
	e.must(403, "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "smartcard-logon", User: "bob", CSR: csrPEM(t, p256(t))})

	// Every template with smart card logon is card-only; administrators
	// make others so.
	var tpl map[string]any
	e.must(201, "POST", "/api/v1/templates", e.admin, map[string]any{"name": "logon2", "key_algorithms": []string{"ecp256"}, "validity_days": 30,
		"key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"smartcard_logon"}, "subject": map[string]any{"common_name": "{login}", "san_upn": true},
		"card_keys_only": false}).json(&tpl)
	if tpl["card_keys_only"] != true {
		t.Error("a smart card logon template was stored without card keys only")
	}
	e.must(201, "POST", "/api/v1/templates", e.admin, map[string]any{"name": "vpn", "key_algorithms": []string{"ecp256"}, "validity_days": 30,
		"key_usage": []string{"digital_signature"}, "ext_key_usage": []string{"client_auth"}, "subject": map[string]any{"common_name": "{login}"},
		"card_keys_only": true})
	e.must(403, "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "vpn", CSR: csrPEM(t, p256(t))})

	var res apiv1.IssueResult
	e.must(201, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "secure-email", CSR: csrPEM(t, p256(t))}).json(&res)
	if res.Certificate == nil {
		t.Fatalf("secure-email for bob: %+v", res)
	}

	// The policy's documents check applies as in the card flow: a request
	// waits for the CA; a certificate form (recorded only by a card
	// issue) cannot be had here.
	setDocumentsCheck(t, e, lanyard.DocsCARequest)
	res = apiv1.IssueResult{}
	e.must(202, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "secure-email", CSR: csrPEM(t, p256(t))}).json(&res)
	if res.Request == nil || res.Certificate != nil {
		t.Fatalf("under a certificate request check: %+v", res)
	}
	setDocumentsCheck(t, e, lanyard.DocsForm)
	e.must(403, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "secure-email", CSR: csrPEM(t, p256(t))})
}

func setDocumentsCheck(t *testing.T, e *env, check lanyard.DocumentsCheck) {
	t.Helper()
	var pol lanyard.Policy
	e.must(200, "GET", "/api/v1/policies/default", e.admin, nil).json(&pol)
	pol.Settings.Documents.Check = check
	e.must(200, "PUT", "/api/v1/policies/default", e.admin, &pol)
}

// Issue 13, item 10: no template may carry OCSP signing or any purpose
// (a delegated OCSP responder from the issuing CA), on create or update;
// a template stored with one before the rule is not issued from.
func TestTemplateOCSPSigningRefused(t *testing.T) {
	e := mustEnv(t)
	var tpl lanyard.Template
	e.must(200, "GET", "/api/v1/templates/secure-email", e.admin, nil).json(&tpl)
	for _, eku := range []string{lanyard.EKUOCSPSigning, lanyard.EKUAnyExtendedUsage} {
		bad := tpl
		bad.ExtKeyUsage = append([]string{lanyard.EKUEmailProtection}, eku)
		p := e.must(400, "PUT", "/api/v1/templates/secure-email", e.admin, &bad).problem()
		if !strings.Contains(p.Detail, eku) {
			t.Errorf("%s: %q", eku, p.Detail)
		}
	}
	// As a template stored before the rule would be.
	err := e.store.Update(context.Background(), func(tx lanyard.Tx) error {
		old := tpl
		old.ID, old.Name, old.ExtKeyUsage, old.CreatedAt, old.UpdatedAt = 0, "responder", []string{lanyard.EKUOCSPSigning}, time.Now(), time.Now()
		return tx.CreateTemplate(&old)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.mustUser("bob")
	p := e.must(400, "POST", "/api/v1/certificates", e.admin, apiv1.IssueInput{Template: "responder", CSR: csrPEM(t, p256(t))}).problem()
	if !strings.Contains(p.Detail, "OCSP responder") {
		t.Errorf("issuing from a stored OCSP template: %q", p.Detail)
	}
}
