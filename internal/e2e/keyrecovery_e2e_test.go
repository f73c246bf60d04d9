//go:build integration

package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestKeyRecoveryRequesterCannotApprove is dual control over HTTP on the
// real stack (issue 17, "Done when": dual-control recovery refused for
// the requester). Gus's card is issued with an encryption template that
// archives its key. Ann, an administrator, requests the recovery of that
// key; her own approval is refused (403, "a second person must decide
// it") although she gives her account password and a current
// authenticator code, and the request stays pending with no approval
// audited. Bob, another administrator, approves it with his step-up;
// he, the approver, cannot download it.
func TestKeyRecoveryRequesterCannotApprove(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	gus, _ := s.user("gus")
	ann, _ := s.user("ann", lanyard.RoleAdministrator)
	bob, _ := s.user("bob", lanyard.RoleAdministrator)
	webtest.Login(t, s.srv.URL, "ann", password) // enrolls their authenticator apps
	webtest.Login(t, s.srv.URL, "bob", password)
	s.archiveSecureEmail()
	s.pair("gus")
	s.insert(newVCard(t))
	s.issueFor(gus, "24682468", "secure-email")

	var keys []*apiv1.ArchivedKey
	if err := ann.Get(ctx, "/api/v1/users/gus/archived-keys", &keys); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].State != "active" || keys[0].Template != "secure-email" {
		t.Fatalf("gus's archived keys: %+v, want one active secure-email key", keys)
	}
	var req apiv1.KeyRecoveryRequest
	if _, err := ann.Post(ctx, "/api/v1/key-recoveries", apiv1.KeyRecoveryRequestInput{ArchivedKeyID: keys[0].ID, Reason: "gus left; his team needs the project mail"}, &req); err != nil {
		t.Fatal(err)
	}
	path := "/api/v1/key-recoveries/" + itoa(req.ID)

	status, err := ann.Post(ctx, path+"/approve", apiv1.KeyRecoveryDecision{Comment: "mine", AccountPassword: password, Code: webtest.TOTPCode(t, s.srv.URL, "ann")}, nil)
	if want := "you requested key recovery " + itoa(req.ID) + ": a second person must decide it"; status != http.StatusForbidden || err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("the requester approving: %d %v, want 403 %q", status, err, want)
	}
	if got := s.recovery(req.ID); got.State != "pending" || got.DecidedBy != 0 {
		t.Fatalf("after the requester's approval the request is %+v, want pending, undecided", got)
	}
	if evs := s.audit("key.recovery.approve", 0); len(evs) != 0 {
		t.Fatalf("the refused approval was audited as one: %+v", evs)
	}

	var approved apiv1.KeyRecoveryRequest
	if _, err := bob.Post(ctx, path+"/approve", apiv1.KeyRecoveryDecision{Comment: "project mail, ticket 17", AccountPassword: password, Code: webtest.TOTPCode(t, s.srv.URL, "bob")}, &approved); err != nil {
		t.Fatalf("another administrator approving: %v", err)
	}
	if approved.State != "approved" || approved.DecidedBy == 0 || approved.DecidedBy == approved.RequestedBy {
		t.Fatalf("approved by bob: %+v", approved)
	}
	if evs := s.audit("key.recovery.approve", 0); len(evs) != 1 || evs[0].Actor != "bob" {
		t.Errorf("key.recovery.approve events: %+v, want one by bob", evs)
	}
	if status, err := bob.Post(ctx, path+"/download", apiv1.KeyRecoverInput{Password: "Recovered-2026!"}, nil); status != http.StatusNotFound || err == nil || !strings.Contains(err.Error(), "only its requester downloads it") {
		t.Errorf("the approver downloading: %d %v, want 404, only its requester", status, err)
	}
}

// recovery is key recovery request id as the administrator lists it.
func (s *stack) recovery(id int64) *apiv1.KeyRecoveryRequest {
	s.t.Helper()
	var list []*apiv1.KeyRecoveryRequest
	if err := s.admin.Get(context.Background(), "/api/v1/key-recoveries", &list); err != nil {
		s.t.Fatal(err)
	}
	for _, r := range list {
		if r.ID == id {
			return r
		}
	}
	s.t.Fatalf("key recovery request %d is not listed", id)
	return nil
}
