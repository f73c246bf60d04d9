package service_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
)

// Four eyes: a CA manager cannot approve a request for their own
// certificate; another one can.
func TestApproveOwnRequestRefused(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	tpl := service.DefaultTemplates()[1] // secure-email
	tpl.Name, tpl.RequiresCAApproval = "approved-email", true
	if _, err := e.svc.CreateTemplate(ctx, e.admin, tpl); err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	res, err := e.svc.Issue(ctx, e.admin, service.IssueInput{Template: "approved-email", User: "alice", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	if err != nil || res.Request == nil {
		t.Fatalf("queue for alice: %v %+v", err, res)
	}
	own, err := e.svc.Issue(ctx, e.admin, service.IssueInput{Template: "approved-email", PublicKey: base64.StdEncoding.EncodeToString(spki)})
	if err != nil || own.Request == nil {
		t.Fatalf("queue for the admin: %v %+v", err, own)
	}
	if _, err := e.svc.ApproveRequest(ctx, e.admin, own.Request.ID, ""); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("approving one's own request: %v", err)
	}
	if _, err := e.svc.ApproveRequest(ctx, e.admin, res.Request.ID, ""); err != nil {
		t.Fatalf("approving alice's request: %v", err)
	}
}
