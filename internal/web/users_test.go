package web_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

const adaPassword = "ada's own long password"

// storedUser reads login from the store, password hash included.
func (e *env) storedUser(login string) *lanyard.User {
	e.t.Helper()
	var u *lanyard.User
	storetest.MustView(e.t, e.store, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	return u
}

// mustAda creates ada, an administrator with a password, and returns a
// token for her.
func (e *env) mustAda() string {
	e.t.Helper()
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "ada", "roles": []string{"user", "administrator"}, "password": adaPassword, "upn": "ada@corp.example"})
	var tok apiv1.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"user": "ada", "ttl": "1h"}).json(&tok)
	return tok.Secret
}

// An operator cannot take over a staff account through the API: no
// password, attribute, role or authenticator change of an administrator
// passes, and nothing is written.
func TestOperatorCannotTakeOverStaffAPI(t *testing.T) {
	e := mustEnv(t)
	op := e.mustUser("olivia", lanyard.RoleUser, lanyard.RoleOperator)
	ada := e.mustAda()
	e.mustUser("alice")

	var setup apiv1.TOTPSetup
	e.must(201, "POST", "/api/v1/me/totp", ada, nil).json(&setup)
	e.must(200, "POST", "/api/v1/me/totp/confirm", ada, map[string]string{"code": totpCode(t, setup.Secret)})

	before, events := e.storedUser("ada"), e.auditCount()
	for _, body := range []map[string]any{
		{"password": "the operator's password for ada"},
		{"roles": []string{"user"}},
		{"email": "olivia@example.com"},
		{"upn": "olivia-owns-this@corp.example"},
		{"disabled": true},
		{"groups": []string{"operators"}},
	} {
		if r := e.do("PATCH", "/api/v1/users/ada", op, body); r.status != 403 || !strings.Contains(r.problem().Detail, "only an administrator") {
			t.Errorf("operator PATCH ada %v: %d %s", body, r.status, r.body)
		}
	}
	if r := e.do("DELETE", "/api/v1/users/ada/totp", op, nil); r.status != 403 {
		t.Errorf("operator resets ada's authenticator: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/users/alice", op, map[string]any{"roles": []string{"user", "auditor"}}); r.status != 403 {
		t.Errorf("operator grants the auditor role: %d %s", r.status, r.body)
	}
	if got := e.storedUser("ada"); !reflect.DeepEqual(got, before) {
		t.Errorf("ada changed:\n got %+v\nwant %+v", got, before)
	}
	if n := e.auditCount(); n != events {
		t.Errorf("refused changes wrote %d audit events", n-events)
	}
	var info apiv1.TOTPInfo
	e.must(200, "GET", "/api/v1/users/ada/totp", op, nil).json(&info)
	if !info.Confirmed {
		t.Errorf("ada's authenticator after the refused reset: %+v", info)
	}
	// The help desk keeps serving plain users.
	e.must(200, "PATCH", "/api/v1/users/alice", op, map[string]any{"password": "alice's new password", "email": "alice2@example.com"})

	// Nobody changes their own roles, administrators included.
	for _, token := range []string{e.admin, ada} {
		var me struct {
			User lanyard.User `json:"user"`
		}
		e.must(200, "GET", "/api/v1/session", token, nil).json(&me)
		if r := e.do("PATCH", "/api/v1/users/"+me.User.Login, token, map[string]any{"roles": []string{"user", "administrator", "auditor"}}); r.status != 403 {
			t.Errorf("%s changes own roles: %d %s", me.User.Login, r.status, r.body)
		}
	}
}

// An administrator who resets a staff member's password ends that
// person's browser sessions and API tokens at once.
func TestStaffPasswordResetEndsSessionsAPI(t *testing.T) {
	e := mustEnv(t)
	ada := e.mustAda()
	cookie, _ := webtest.Login(t, e.url, "ada", adaPassword) // with her second factor
	e.must(200, "GET", "/api/v1/session", ada, nil)
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", cookie); r.status != 200 {
		t.Fatalf("ada's session before: %d %s", r.status, r.body)
	}
	e.must(200, "PATCH", "/api/v1/users/ada", e.admin, map[string]any{"password": "reset by the administrator"})
	if r := e.do("GET", "/api/v1/session", ada, nil); r.status != 401 {
		t.Errorf("ada's token after the reset: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", cookie); r.status != 401 {
		t.Errorf("ada's session after the reset: %d %s", r.status, r.body)
	}
}

// A UPN names one user: nobody gives bob alice's UPN, in any case (a smart card logon certificate with it would log on as alice),
// and a UPN that live certificates carry is not changed until they are
// revoked.
func TestUPNTakeoverRefusedAPI(t *testing.T) {
	e := mustEnv(t)
	op := e.mustUser("olivia", lanyard.RoleUser, lanyard.RoleOperator)
	e.mustUser("alice") // UPN alice@example.com
	bob := e.mustUser("bob")
	before := e.storedUser("bob")
	for _, upn := range []string{"alice@example.com", "Alice@Example.COM"} {
		r := e.do("PATCH", "/api/v1/users/bob", e.admin, map[string]any{"upn": upn}) // bob has one: an administrator's change
		if p := r.problem(); r.status != 409 || p.Detail != `UPN "`+upn+`" is already used by another user` {
			t.Errorf("administrator gives bob the UPN %s: %d %s", upn, r.status, r.body)
		}
		r = e.do("POST", "/api/v1/users", e.admin, map[string]any{"login": "mallory", "upn": upn})
		if r.status != 409 {
			t.Errorf("administrator creates mallory with the UPN %s: %d %s", upn, r.status, r.body)
		}
		// An operator sets no UPN at all: not even one no one holds (a
		// staff member's, a Windows account's Lanyard does not know).
		r = e.do("POST", "/api/v1/users", op, map[string]any{"login": "mallory", "upn": "admin@example.com"})
		if r.status != 403 {
			t.Errorf("operator creates mallory with a UPN: %d %s", r.status, r.body)
		}
	}
	if got := e.storedUser("bob"); !reflect.DeepEqual(got, before) {
		t.Errorf("bob changed: %+v", got)
	}
	e.must(404, "GET", "/api/v1/users/mallory", e.admin, nil)

	// bob's certificate names his UPN: it stays his until it is revoked.
	var res apiv1.IssueResult
	e.must(201, "POST", "/api/v1/certificates", bob, apiv1.IssueInput{Template: "secure-email", CSR: csrPEM(t, p256(t))}).json(&res)
	r := e.do("PATCH", "/api/v1/users/bob", e.admin, map[string]any{"upn": "robert@example.com"})
	if r.status != 409 || !strings.Contains(r.problem().Detail, "revoke them") {
		t.Errorf("UPN change while a certificate is valid: %d %s", r.status, r.body)
	}
	e.must(200, "PATCH", "/api/v1/users/bob", op, map[string]any{"upn": "BOB@example.com"}) // only the case
	e.must(200, "POST", "/api/v1/certificates/"+res.Certificate.Serial+"/revoke", e.admin, map[string]string{"reason": "superseded"})
	e.must(403, "PATCH", "/api/v1/users/bob", op, map[string]any{"upn": "robert@example.com"}) // an administrator's
	e.must(200, "PATCH", "/api/v1/users/bob", e.admin, map[string]any{"upn": "robert@example.com"})
}

// The two-step UPN move: the operator frees alice's UPN (renaming it,
// which needs an administrator) and gives it to bob, a plain user whose
// password the operator knows; bob's smart card logon card would then log
// on as alice. Neither step passes for the operator (only administrators
// set UPNs), and the second fails for everyone, since alice's UPN stays
// hers.
func TestUPNMoveInTwoStepsRefusedAPI(t *testing.T) {
	e := mustEnv(t)
	op := e.mustUser("olivia", lanyard.RoleUser, lanyard.RoleOperator)
	e.mustUser("alice") // UPN alice@example.com
	e.must(201, "POST", "/api/v1/users", op, map[string]any{"login": "bob", "password": "bob's password, the operator's"})
	for _, upn := range []any{"alice.old@example.com", ""} {
		r := e.do("PATCH", "/api/v1/users/alice", op, map[string]any{"upn": upn})
		if r.status != 403 || !strings.Contains(r.problem().Detail, "only an administrator can set, change or clear a UPN") {
			t.Errorf("operator changes alice's UPN to %q: %d %s", upn, r.status, r.body)
		}
	}
	e.must(200, "PATCH", "/api/v1/users/alice", e.admin, map[string]any{"upn": "alice.old@example.com"})
	if r := e.do("PATCH", "/api/v1/users/bob", op, map[string]any{"upn": "alice@example.com"}); r.status != 403 {
		t.Errorf("the operator gives bob alice's old UPN: %d %s", r.status, r.body)
	}
	r := e.do("PATCH", "/api/v1/users/bob", e.admin, map[string]any{"upn": "alice@example.com"})
	if p := r.problem(); r.status != 409 || p.Detail != `UPN "alice@example.com" belonged to another user` {
		t.Errorf("an administrator gives bob alice's old UPN: %d %s", r.status, r.body)
	}
	if got := e.storedUser("bob").UPN; got != "" {
		t.Errorf("bob's UPN: %q", got)
	}
	e.must(403, "PATCH", "/api/v1/users/bob", op, map[string]any{"upn": "bob@example.com"}) // a first UPN too: an administrator's
	e.must(200, "PATCH", "/api/v1/users/bob", e.admin, map[string]any{"upn": "bob@example.com"})
}

// An operator sets a plain user's password; an administrator later makes
// that user an administrator. Unless the grant sets a new password, the
// operator would sign in first and enrol the account's authenticator app.
func TestStaffGrantNeedsNewPasswordAPI(t *testing.T) {
	e := mustEnv(t)
	op := e.mustUser("olivia", lanyard.RoleUser, lanyard.RoleOperator)
	bob := e.mustUser("bob")
	helpDesk := "bob's password, set by the help desk"
	e.must(200, "PATCH", "/api/v1/users/bob", op, map[string]any{"password": helpDesk})
	cookie, _ := webtest.Login(t, e.url, "bob", helpDesk)
	before := e.storedUser("bob")
	r := e.do("PATCH", "/api/v1/users/bob", e.admin, map[string]any{"roles": []string{"user", "administrator"}})
	if r.status != 400 || !strings.Contains(r.problem().Detail, "set a new password when granting a staff role") {
		t.Errorf("grant without a password: %d %s", r.status, r.body)
	}
	if got := e.storedUser("bob"); !reflect.DeepEqual(got, before) {
		t.Errorf("bob changed: %+v", got)
	}
	e.must(200, "PATCH", "/api/v1/users/bob", e.admin, map[string]any{"roles": []string{"user", "administrator"}, "password": "bob's own, from the administrator"})
	if r := e.do("GET", "/api/v1/session", bob, nil); r.status != 401 {
		t.Errorf("bob's token after the grant: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/session", "", nil, "Cookie", cookie); r.status != 401 {
		t.Errorf("the operator's session as bob after the grant: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/api/v1/session", "", map[string]string{"login": "bob", "password": helpDesk}); r.status != 401 {
		t.Errorf("the help desk's password after the grant: %d %s", r.status, r.body)
	}
}
