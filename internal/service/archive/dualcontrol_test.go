package archive_test

import (
	"crypto"
	"strconv"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// downloadInput is olga's download of a request: her step-up.
func (e *recoverEnv) downloadInput(t *testing.T, password string) archive.RecoverInput {
	return archive.RecoverInput{Password: password, AccountPassword: accountPassword, Code: e.codeOf(t, e.olga)}
}

// request is olga's request to recover alice's key, for reason.
func (e *recoverEnv) request(t *testing.T, reason string) *lanyard.KeyRecoveryRequest {
	t.Helper()
	r, err := e.arc.RequestRecovery(t.Context(), e.olga, e.key.ID, reason)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// approval is p's approval with their step-up, in a TOTP step whose code
// they have not used yet (a code is good once).
func (e *recoverEnv) approval(t *testing.T, p *lanyard.Principal, comment string) archive.Decision {
	e.clock.Add(identity.TOTPPeriod)
	d := archive.Decision{Approve: true, Comment: comment, AccountPassword: accountPassword}
	if e.secrets[p.User.Login] != "" {
		d.Code = e.codeOf(t, p)
	}
	return d
}

// TestRecoveryDualControl: olga (operator) requests the recovery of
// alice's key with a reason; adam (administrator) approves; olga
// downloads the PKCS #12 once with her step-up and a password she sets;
// it holds alice's key. Each step writes its one audit event and notifies
// alice; the key.recover event names the request and the approver.
func TestRecoveryDualControl(t *testing.T) { dualControl(t, newRecoverEnv(t)) }

func dualControl(t *testing.T, e *recoverEnv) {
	ctx := t.Context()
	r, err := e.arc.RequestRecovery(ctx, e.olga, e.key.ID, "  alice left; the legal hold needs her mail  ")
	if err != nil {
		t.Fatal(err)
	}
	if r.State != lanyard.KeyRecoveryPending || r.Reason != "alice left; the legal hold needs her mail" || r.OwnerID != e.alice.User.ID {
		t.Errorf("request %+v", r)
	}
	_, err = e.arc.DownloadRecovery(ctx, e.olga, r.ID, e.downloadInput(t, filePassword))
	servicetest.WantErr(t, "download before approval", err, lanyard.EConflict, "pending, not approved")
	if r, err = e.arc.DecideRecovery(ctx, e.adam, r.ID, e.approval(t, e.adam, "HR ticket 4711")); err != nil {
		t.Fatal(err)
	}
	if r.State != lanyard.KeyRecoveryApproved || r.DecidedBy != e.adam.User.ID {
		t.Errorf("approved request %+v", r)
	}
	_, err = e.arc.DownloadRecovery(ctx, e.adam, r.ID, e.downloadInput(t, filePassword))
	servicetest.WantErr(t, "the approver downloading", err, lanyard.ENotFound, "only its requester")
	_, err = e.arc.DownloadRecovery(ctx, e.olga, r.ID, e.downloadInput(t, "weak"))
	servicetest.WantErr(t, "a password below alice's policy", err, lanyard.EInvalid, "12 to")
	got, err := e.arc.DownloadRecovery(ctx, e.olga, r.ID, e.downloadInput(t, filePassword))
	if err != nil {
		t.Fatal(err)
	}
	key, cert, _, err := pkcs12.DecodeChain(got.PFX, filePassword)
	if err != nil {
		t.Fatal(err)
	}
	if !e.private.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) || !cert.Equal(e.cert) {
		t.Error("the PKCS #12 file holds another key or certificate")
	}
	e.clock.Add(identity.TOTPPeriod)
	_, err = e.arc.DownloadRecovery(ctx, e.olga, r.ID, e.downloadInput(t, filePassword))
	servicetest.WantErr(t, "a second download", err, lanyard.EConflict, "downloaded already")
	for action, by := range map[string]string{"key.recovery.request": "olga", "key.recovery.approve": "adam", "key.recover": "olga"} {
		evs := e.audit(t, action)
		if len(evs) != 1 || evs[0].Actor != by {
			t.Errorf("%s events %+v, want one by %s", action, evs, by)
			continue
		}
		if d := string(evs[0].Details); strings.Contains(d, filePassword) || strings.Contains(d, accountPassword) || !strings.Contains(d, `"notified":true`) {
			t.Errorf("%s details %s: want notified, never a password", action, d)
		}
	}
	if d := string(e.audit(t, "key.recover")[0].Details); !strings.Contains(d, `"approved_by":`) || !strings.Contains(d, `"request":`) {
		t.Errorf("key.recover details %s do not name the request and approver", d)
	}
	for _, kind := range []string{notify.KindKeyRecoveryRequest, notify.KindKeyRecoveryApproved, notify.KindKeyRecovered} {
		if ms := e.mail(t, kind); len(ms) != 1 || ms[0].To[0] != "alice@example.com" {
			t.Errorf("%s notices %+v, want one to alice", kind, ms)
		}
	}
	list, err := e.arc.RecoveryRequests(ctx, e.adam, lanyard.KeyRecoveryDownloaded)
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Errorf("downloaded requests %+v, %v", list, err)
	}
}

// TestRecoveryDualControlRefusals: a plain user cannot request; no reason
// is refused; a key without its certificate is not recovered; the owner requests no recovery of her own key; the
// requester never approves (even an administrator), the owner never
// decides her own key's request, an operator does not decide; a rejected
// request does not download; a decided request is not decided again.
func TestRecoveryDualControlRefusals(t *testing.T) { dualControlRefusals(t, newRecoverEnv(t)) }

func dualControlRefusals(t *testing.T, e *recoverEnv) {
	ctx := t.Context()
	_, err := e.arc.RequestRecovery(ctx, e.bob, e.key.ID, "curious")
	servicetest.WantErr(t, "a plain user requesting", err, lanyard.EForbidden, "operator or an administrator")
	_, err = e.arc.RequestRecovery(ctx, e.olga, e.key.ID, "   ")
	servicetest.WantErr(t, "no reason", err, lanyard.EInvalid, "reason is required")
	aliceAdmin := &lanyard.Principal{User: e.alice.User, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	_, err = e.arc.RequestRecovery(ctx, aliceAdmin, e.key.ID, "mine")
	servicetest.WantErr(t, "the owner requesting", err, lanyard.EInvalid, "recover it yourself")
	pending := e.pendingKey(t)
	_, err = e.arc.RequestRecovery(ctx, e.olga, pending.ID, "legal hold")
	servicetest.WantErr(t, "a pending key", err, lanyard.EConflict, "pending")
	r, err := e.arc.RequestRecovery(ctx, e.adam, e.key.ID, "audit of alice's mail")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.arc.DecideRecovery(ctx, e.adam, r.ID, e.approval(t, e.adam, ""))
	servicetest.WantErr(t, "the requester approving", err, lanyard.EForbidden, "a second person")
	_, err = e.arc.DecideRecovery(ctx, aliceAdmin, r.ID, e.approval(t, aliceAdmin, ""))
	servicetest.WantErr(t, "the owner approving", err, lanyard.EForbidden, "your own key")
	_, err = e.arc.DecideRecovery(ctx, e.olga, r.ID, e.approval(t, e.olga, ""))
	servicetest.WantErr(t, "an operator approving", err, lanyard.EForbidden, "only an administrator")
	if _, err := e.arc.DecideRecovery(ctx, e.stack.Admin, r.ID, archive.Decision{Comment: "no ticket"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.arc.DecideRecovery(ctx, e.stack.Admin, r.ID, e.approval(t, e.stack.Admin, ""))
	servicetest.WantErr(t, "deciding again", err, lanyard.EConflict, "rejected already")
	_, err = e.arc.DownloadRecovery(ctx, e.adam, r.ID, archive.RecoverInput{Password: filePassword})
	servicetest.WantErr(t, "downloading a rejected request", err, lanyard.EConflict, "rejected, not approved")
	if evs := e.audit(t, "key.recover"); len(evs) != 0 {
		t.Errorf("refusals recovered a key: %+v", evs)
	}
	if evs := e.audit(t, "key.recovery.approve"); len(evs) != 0 {
		t.Errorf("refusals approved: %+v", evs)
	}
	if ms := e.mail(t, notify.KindKeyRecoveryRejected); len(ms) != 1 {
		t.Errorf("rejection notices %+v, want one", ms)
	}
}

// TestRecoveryApproverAnotherPerson: an administrator account sharing the
// requester's e-mail address (the requester's second account), or the
// owner's, does not approve; a change of the owner's e-mail address since
// the request stops its approval (a rejection still goes through) and an
// approved request's download, because the owner's notice went to the old
// address.
func TestRecoveryApproverAnotherPerson(t *testing.T) {
	e := newRecoverEnv(t)
	ctx := t.Context()
	olgaAdmin := e.user(t, "olga-admin", "Olga@Example.com", lanyard.RoleAdministrator)
	aliceAdmin := e.user(t, "alice-admin", "alice@example.com", lanyard.RoleAdministrator)
	r := e.request(t, "legal hold")
	var err error
	if r.OwnerEmail != "alice@example.com" {
		t.Errorf("request records owner e-mail %q", r.OwnerEmail)
	}
	_, err = e.arc.DecideRecovery(ctx, olgaAdmin, r.ID, e.approval(t, olgaAdmin, ""))
	servicetest.WantErr(t, "the requester's second account approving", err, lanyard.EForbidden, "share the e-mail address")
	_, err = e.arc.DecideRecovery(ctx, aliceAdmin, r.ID, e.approval(t, aliceAdmin, ""))
	servicetest.WantErr(t, "the owner's second account approving", err, lanyard.EForbidden, "share the e-mail address")
	setEmail := func(mail string) {
		t.Helper()
		if _, err := e.stack.Service.Identity.UpdateUser(ctx, e.stack.Admin, "alice", identity.UserInput{Email: &mail}); err != nil {
			t.Fatal(err)
		}
	}
	setEmail("alice.private@elsewhere.example")
	_, err = e.arc.DecideRecovery(ctx, e.adam, r.ID, e.approval(t, e.adam, ""))
	servicetest.WantErr(t, "approving after the owner's e-mail changed", err, lanyard.EConflict, "changed since")
	if _, err := e.arc.DecideRecovery(ctx, e.adam, r.ID, archive.Decision{Comment: "address changed"}); err != nil {
		t.Fatalf("rejecting after the owner's e-mail changed: %v", err)
	}
	setEmail("alice@example.com")
	r = e.request(t, "legal hold, again")
	if _, err := e.arc.DecideRecovery(ctx, e.adam, r.ID, e.approval(t, e.adam, "")); err != nil {
		t.Fatal(err)
	}
	setEmail("")
	_, err = e.arc.DownloadRecovery(ctx, e.olga, r.ID, e.downloadInput(t, filePassword))
	servicetest.WantErr(t, "downloading after the owner's e-mail was removed", err, lanyard.EConflict, "changed since")
	if evs := e.audit(t, "key.recovery.approve"); len(evs) != 1 || evs[0].Actor != "adam" {
		t.Errorf("approvals %+v, want adam's one", evs)
	}
	if evs := e.audit(t, "key.recover"); len(evs) != 0 {
		t.Errorf("a key was recovered: %+v", evs)
	}
}

// TestRecoveryApprovalStepUp: approving takes the approver's step-up, as
// taking a key out does: no code, a wrong code, a wrong account password
// and a code used already in its step are refused and leave the request
// pending; an administrator without an authenticator app is told to set
// one up; with the step-up the approval goes through. A rejection needs
// none.
func TestRecoveryApprovalStepUp(t *testing.T) {
	e := newRecoverEnv(t)
	ctx := t.Context()
	r := e.request(t, "legal hold")
	d := e.approval(t, e.adam, "")
	for name, bad := range map[string]archive.Decision{
		"no step-up":            {Approve: true},
		"a wrong code":          {Approve: true, AccountPassword: accountPassword, Code: "000000"},
		"a wrong password":      {Approve: true, AccountPassword: "not adam's password", Code: d.Code},
		"no authenticator code": {Approve: true, AccountPassword: accountPassword},
	} {
		_, err := e.arc.DecideRecovery(ctx, e.adam, r.ID, bad)
		if !lanyard.IsCode(err, lanyard.EStepUpFailed) && !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: %v, want the step-up refused", name, err)
		}
	}
	ann := e.user(t, "ann", "ann@example.com", lanyard.RoleAdministrator) // no authenticator app
	_, err := e.arc.DecideRecovery(ctx, ann, r.ID, e.approval(t, ann, ""))
	servicetest.WantErr(t, "an approver without an authenticator app", err, lanyard.ESecondFactorRequired, "")
	if got, err := e.arc.RecoveryRequests(ctx, e.adam, lanyard.KeyRecoveryPending); err != nil || len(got) != 1 {
		t.Fatalf("pending requests after refused approvals: %+v, %v", got, err)
	}
	d = e.approval(t, e.adam, "")
	if _, err := e.arc.DecideRecovery(ctx, e.adam, r.ID, d); err != nil {
		t.Fatal(err)
	}
	r2 := e.request(t, "legal hold 2")
	_, err = e.arc.DecideRecovery(ctx, e.adam, r2.ID, d)
	servicetest.WantErr(t, "a code used already", err, lanyard.EStepUpFailed, "")
	if _, err := e.arc.DecideRecovery(ctx, ann, r2.ID, archive.Decision{Comment: "no"}); err != nil {
		t.Fatalf("a rejection without step-up: %v", err)
	}
	if evs := e.audit(t, "key.recovery.approve"); len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"step_up":true`) {
		t.Errorf("approvals %+v, want one with its step-up", evs)
	}
}

// TestRecoveryRequestExpires: a request undecided for the period (7 days
// by default) expires: it is not approved, it is listed as expired, and
// its expiry is audited once (by the system); one just inside the period
// is still approved.
func TestRecoveryRequestExpires(t *testing.T) {
	e := newRecoverEnv(t)
	ctx := t.Context()
	old := e.request(t, "legal hold")
	if want := e.clock.Now().Add(archive.DefaultRecoveryTTL); !old.ExpiresAt.Equal(want) {
		t.Errorf("expires at %s, want %s", old.ExpiresAt, want)
	}
	e.clock.Add(2 * 24 * time.Hour)
	fresh := e.request(t, "legal hold, again")
	e.clock.Add(archive.DefaultRecoveryTTL - 2*24*time.Hour) // old: exactly 7 days
	_, err := e.arc.DecideRecovery(ctx, e.adam, old.ID, e.approval(t, e.adam, ""))
	servicetest.WantErr(t, "approving an expired request", err, lanyard.EConflict, "expired")
	if _, err := e.arc.DecideRecovery(ctx, e.adam, fresh.ID, e.approval(t, e.adam, "")); err != nil {
		t.Fatalf("approving a request inside its period: %v", err)
	}
	list, err := e.arc.RecoveryRequests(ctx, e.adam, lanyard.KeyRecoveryExpired)
	if err != nil || len(list) != 1 || list[0].ID != old.ID {
		t.Fatalf("expired requests %+v, %v; want the old one", list, err)
	}
	if _, err := e.arc.RecoveryRequests(ctx, e.adam, ""); err != nil {
		t.Fatal(err)
	}
	if evs := e.audit(t, "key.recovery.expire"); len(evs) != 1 || evs[0].ObjectID != strconv.FormatInt(old.ID, 10) {
		t.Errorf("key.recovery.expire events %+v, want one for request %d", evs, old.ID)
	}
	if evs := e.audit(t, "key.recovery.approve"); len(evs) != 1 {
		t.Errorf("approvals %+v, want the fresh one's", evs)
	}
}
