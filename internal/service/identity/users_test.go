package identity_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

func TestCheckAccountChange(t *testing.T) {
	var (
		user    = lanyard.Roles{lanyard.RoleUser}
		op      = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}
		admin   = lanyard.Roles{lanyard.RoleAdministrator}
		caMgr   = lanyard.Roles{lanyard.RoleCAManager}
		auditor = lanyard.Roles{lanyard.RoleAuditor}
		adminOp = lanyard.Roles{lanyard.RoleOperator, lanyard.RoleAdministrator}
		noRoles = lanyard.Roles{}
		same    = func(rs lanyard.Roles) identity.AccountChange {
			return identity.AccountChange{Login: "x", Before: rs, After: rs}
		}
		roles = func(from, to lanyard.Roles) identity.AccountChange {
			return identity.AccountChange{Login: "x", Before: from, After: to, NewRoles: true}
		}
		self    = func(c identity.AccountChange) identity.AccountChange { c.Self = true; return c }
		profile = func(c identity.AccountChange) identity.AccountChange { c.Profile = true; return c }
		upn     = func(c identity.AccountChange) identity.AccountChange { c.UPN = true; return c }
		create  = func(rs lanyard.Roles) identity.AccountChange {
			return identity.AccountChange{Login: "x", After: rs, NewRoles: true}
		}
		denied   = lanyard.EForbidden
		accepted = ""
	)
	tests := []struct {
		name   string
		actor  lanyard.Roles
		change identity.AccountChange
		want   string // error code, "" = allowed
	}{
		{"operator changes a user's attributes", op, same(user), accepted},
		{"operator changes an account without roles", op, same(noRoles), accepted},
		{"operator changes an administrator's attributes", op, same(admin), denied},
		{"operator changes a CA manager's attributes", op, same(caMgr), denied},
		{"operator changes an auditor's attributes", op, same(auditor), denied},
		{"operator changes another operator", op, same(op), denied},
		{"operator strips an administrator to user", op, roles(admin, user), denied},
		{"operator removes a CA manager's role", op, roles(lanyard.Roles{lanyard.RoleUser, lanyard.RoleCAManager}, user), denied},
		{"operator grants operator", op, roles(user, op), denied},
		{"operator gives a user the user role", op, roles(noRoles, user), accepted},
		{"operator takes the user role away", op, roles(user, noRoles), accepted},
		{"operator creates a user", op, create(user), accepted},
		{"operator creates an auditor", op, create(auditor), denied},
		{"administrator changes a user", admin, same(user), accepted},
		{"administrator changes another administrator", admin, same(adminOp), accepted},
		{"administrator strips another administrator", admin, roles(admin, user), accepted},
		{"administrator grants CA manager", admin, roles(user, caMgr), accepted},
		{"administrator creates an auditor", admin, create(auditor), accepted},
		{"administrator changes own roles", admin, self(roles(adminOp, admin)), denied},
		{"administrator adds a role to self", admin, self(roles(admin, adminOp)), denied},
		{"administrator changes own attributes", admin, self(same(admin)), accepted},
		{"operator changes own roles", op, self(roles(op, user)), denied},
		{"operator changes own attributes", op, self(profile(same(op))), denied},
		{"CA manager changes own attributes", caMgr, self(profile(same(caMgr))), denied},
		{"operator removes own authenticator app (with a code)", op, self(same(op)), accepted},
		{"administrator changes own attributes (profile)", admin, self(profile(same(admin))), accepted},
		{"user changes own attributes", user, self(same(user)), accepted},
		{"user changes another user", user, same(user), denied},
		{"auditor changes another user", auditor, same(user), denied},
		{"CA manager changes another user", caMgr, same(user), denied},
		{"no roles at all", noRoles, same(user), denied},
		{"operator changes a user's UPN", op, profile(upn(same(user))), denied},
		{"administrator changes a user's UPN", admin, profile(upn(same(user))), accepted},
		{"administrator changes own UPN", admin, self(profile(upn(same(admin)))), accepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.CheckAccountChange(tt.actor, tt.change)
			if tt.want == accepted {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !lanyard.IsCode(err, tt.want) {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
		})
	}
}

// userEnv adds a second administrator (ada) and a CA manager (carl) to the
// TOTP environment: alice and bob (users), olivia (operator), audrey
// (auditor), admin (the bootstrap administrator, every role).
type userEnv struct {
	*totpEnv
	ada, carl *lanyard.Principal
}

func newUserEnv(t *testing.T) *userEnv {
	t.Helper()
	e := &userEnv{totpEnv: newTOTPEnv(t)}
	mk := func(login string, roles ...lanyard.Role) *lanyard.Principal {
		pw, rs := totpPassword, lanyard.Roles(roles)
		u, err := e.svc.Identity.CreateUser(context.Background(), e.ad, identity.UserInput{Login: login, Password: &pw, Roles: &rs})
		if err != nil {
			t.Fatal(err)
		}
		return &lanyard.Principal{User: u, Roles: u.Roles, RemoteAddr: "192.0.2.20"}
	}
	e.ada = mk("ada", lanyard.RoleUser, lanyard.RoleAdministrator)
	e.carl = mk("carl", lanyard.RoleUser, lanyard.RoleCAManager)
	return e
}

// user reads login as stored.
func (e *userEnv) user(t *testing.T, login string) *lanyard.User {
	t.Helper()
	var u *lanyard.User
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return })
	return u
}

// An operator changes plain users only; staff accounts are the
// administrators' to change, and nothing of a refused change is written.
func TestOperatorCannotTakeOverStaff(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	pw, mail, upn, yes := "a new password for ada", "op@example.test", "ada@corp.example", true
	userOnly := lanyard.Roles{lanyard.RoleUser}
	groups := []string{"operators"}
	before, adaBefore, carlBefore := e.snapshot(t), e.user(t, "ada"), e.user(t, "carl")
	for _, tc := range []struct {
		what, login string
		in          identity.UserInput
	}{
		{"sets an administrator's password", "ada", identity.UserInput{Password: &pw}},
		{"sets an administrator's e-mail", "ada", identity.UserInput{Email: &mail}},
		{"sets an administrator's UPN", "ada", identity.UserInput{UPN: &upn}},
		{"sets an administrator's groups", "ada", identity.UserInput{Groups: &groups}},
		{"disables an administrator", "ada", identity.UserInput{Disabled: &yes}},
		{"strips an administrator to user", "ada", identity.UserInput{Roles: &userOnly}},
		{"sets a CA manager's password", "carl", identity.UserInput{Password: &pw}},
		{"strips a CA manager to user", "carl", identity.UserInput{Roles: &userOnly}},
		{"sets another operator's password", "olivia", identity.UserInput{Password: &pw}},
	} {
		op := e.op
		if tc.login == "olivia" {
			op = &lanyard.Principal{User: e.user(t, "ada"), Roles: lanyard.Roles{lanyard.RoleOperator}} // ada's operator-only token
		}
		_, err := e.svc.Identity.UpdateUser(ctx, op, tc.login, tc.in)
		wantErr(t, "operator "+tc.what, err, lanyard.EForbidden, "only an administrator")
	}
	_, err := e.svc.Identity.CreateUser(ctx, e.op, identity.UserInput{Login: "mallory", Roles: &lanyard.Roles{lanyard.RoleAuditor}})
	wantErr(t, "operator creates an auditor", err, lanyard.EForbidden, "only an administrator")
	if e.snapshot(t) != before || !reflect.DeepEqual(e.user(t, "ada"), adaBefore) || !reflect.DeepEqual(e.user(t, "carl"), carlBefore) {
		t.Fatal("a refused change wrote something")
	}
	// The help desk still serves plain users.
	if _, err := e.svc.Identity.UpdateUser(ctx, e.op, "alice", identity.UserInput{Password: &pw, Email: &mail}); err != nil {
		t.Fatalf("operator changes a user: %v", err)
	}
	// An administrator changes a staff account, but not their own roles.
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "carl", identity.UserInput{Roles: &userOnly}); err != nil {
		t.Fatalf("administrator strips a CA manager: %v", err)
	}
	adminOnly := lanyard.Roles{lanyard.RoleAdministrator}
	for _, rs := range []lanyard.Roles{adminOnly, {lanyard.RoleUser, lanyard.RoleAdministrator, lanyard.RoleAuditor}} {
		_, err = e.svc.Identity.UpdateUser(ctx, e.ada, "ada", identity.UserInput{Roles: &rs})
		wantErr(t, "administrator changes own roles", err, lanyard.EForbidden, "your own roles")
	}
	if got := e.user(t, "ada").Roles; len(got) != 2 {
		t.Fatalf("ada's roles after refused self-changes: %v", got)
	}
}

// Resetting a staff member's authenticator app is the administrators'.
func TestOperatorCannotResetStaffTOTP(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	e.enroll(t, e.ada)
	before := e.snapshot(t)
	err := e.svc.Identity.RemoveTOTP(ctx, e.op, "ada", "")
	wantErr(t, "operator resets an administrator's", err, lanyard.EForbidden, "only an administrator")
	if e.snapshot(t) != before {
		t.Fatal("a refused reset wrote something")
	}
	if info, err := e.svc.Identity.TOTPStatus(ctx, e.ada, "ada"); err != nil || !info.Confirmed {
		t.Fatalf("ada's authenticator after the refused reset: %+v %v", info, err)
	}
	if err := e.svc.Identity.RemoveTOTP(ctx, e.ad, "ada", ""); err != nil {
		t.Fatalf("another administrator resets it: %v", err)
	}
}

// A password that someone else sets on a staff account ends that
// account's sessions and tokens; a plain user's reset and one's own
// change keep them.
func TestStaffPasswordResetEndsCredentials(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	login := func(login string) string { t.Helper(); return e.session(t, login) }
	token := func(login string) string {
		t.Helper()
		tok, err := e.svc.Identity.CreateToken(ctx, e.ad, identity.TokenInput{User: login, TTL: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Secret
	}
	works := func(what, session, tok string, want bool) {
		t.Helper()
		_, _, errS := e.svc.Identity.AuthenticateSession(ctx, session, "")
		_, errT := e.svc.Identity.AuthenticateToken(ctx, tok, "")
		if (errS == nil) != want || (errT == nil) != want {
			t.Errorf("%s: session error %v, token error %v; want working = %v", what, errS, errT, want)
		}
	}
	carlS, carlT := login("carl"), token("carl")
	aliceS, aliceT := login("alice"), token("alice")
	adaS, adaT := login("ada"), token("ada")
	works("carl before", carlS, carlT, true) // fills the token cache

	pw := "a new password, set by ada"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "carl", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	works("carl after ada reset his password", carlS, carlT, false)
	if _, err := e.svc.Identity.UpdateUser(ctx, e.op, "alice", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	works("alice after the operator reset hers", aliceS, aliceT, true)
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "ada", identity.UserInput{Password: &pw}); err != nil {
		t.Fatal(err)
	}
	works("ada after changing her own", adaS, adaT, true)
	var evs []*lanyard.AuditEvent
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Action: "user.update", ObjectID: "carl"})
		return
	})
	if len(evs) != 1 || !strings.Contains(string(evs[0].Details), `"sessions_ended":1`) || !strings.Contains(string(evs[0].Details), `"tokens_revoked":1`) {
		t.Fatalf("audit of the reset: %+v", evs)
	}
}

// A UPN does not move between users: only an administrator sets, changes
// or clears one (an operator could otherwise give bob the UPN of a staff
// member or of a Windows account Lanyard does not know), and a UPN given
// up stays with its first holder, so that no one gets alice's UPN, and
// with a smart card logon certificate for it her Windows account, in two
// steps. Operators still change a UPN's case.
func TestUPNCannotMoveBetweenUsers(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	upn := func(p *lanyard.Principal, login, to string) error {
		_, err := e.svc.Identity.UpdateUser(ctx, p, login, identity.UserInput{UPN: &to})
		return err
	}
	wantErr(t, "operator sets alice's first UPN", upn(e.op, "alice", "alice@corp.example"), lanyard.EForbidden, "only an administrator can set, change or clear a UPN")
	_, err := e.svc.Identity.CreateUser(ctx, e.op, identity.UserInput{Login: "trudy", UPN: ptr("admin@corp.example")})
	wantErr(t, "operator creates a user with a UPN", err, lanyard.EForbidden, "only an administrator can set, change or clear a UPN")
	if err := upn(e.ada, "alice", "alice@corp.example"); err != nil {
		t.Fatalf("administrator sets alice's first UPN: %v", err)
	}
	if err := upn(e.op, "alice", "Alice@Corp.Example"); err != nil {
		t.Fatalf("operator changes only the case of alice's UPN: %v", err)
	}
	for _, to := range []string{"alice.old@corp.example", ""} {
		wantErr(t, "operator changes alice's UPN to "+to, upn(e.op, "alice", to), lanyard.EForbidden, "only an administrator can set, change or clear a UPN")
	}
	if got := e.user(t, "alice").UPN; got != "Alice@Corp.Example" {
		t.Fatalf("alice's UPN after refused changes: %q", got)
	}
	// An administrator renames it; the old one stays alice's.
	if err := upn(e.ada, "alice", "alice.old@corp.example"); err != nil {
		t.Fatalf("administrator changes alice's UPN: %v", err)
	}
	wantErr(t, "ada gives bob alice's old UPN", upn(e.ada, "bob", "ALICE@corp.example"), lanyard.EConflict, `UPN "ALICE@corp.example" belonged to another user`)
	_, err = e.svc.Identity.CreateUser(ctx, e.ada, identity.UserInput{Login: "mallory", UPN: ptr("alice@corp.example")})
	wantErr(t, "ada creates mallory with alice's old UPN", err, lanyard.EConflict, "belonged to another user")
	if got := e.user(t, "bob").UPN; got != "" {
		t.Fatalf("bob's UPN after refused changes: %q", got)
	}
	if err := upn(e.ada, "alice", "alice@corp.example"); err != nil {
		t.Fatalf("alice gets her old UPN back: %v", err)
	}
}

// UPNs are printable ASCII without spaces: the databases and Go fold
// their case alike only there (a Kelvin sign folds to k in Go, not in
// SQLite).
func TestUPNIsASCII(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	for _, bad := range []string{"b\u00f6b@corp.example", "\u212ate@corp.example", "bob smith@corp.example", "bob\t@corp.example", "bob@corp.example\x7f"} {
		_, err := e.svc.Identity.UpdateUser(ctx, e.ada, "bob", identity.UserInput{UPN: &bad})
		wantErr(t, "UPN "+bad, err, lanyard.EInvalid, "printable ASCII")
		_, err = e.svc.Identity.CreateUser(ctx, e.ada, identity.UserInput{Login: "mallory", UPN: &bad})
		wantErr(t, "new user's UPN "+bad, err, lanyard.EInvalid, "printable ASCII")
	}
	good := "Bob.O'Neil+cards@Corp-1.example"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "bob", identity.UserInput{UPN: &good}); err != nil {
		t.Fatalf("UPN %s: %v", good, err)
	}
}

// Granting a staff role needs a new password in the same change: the help
// desk may have set the plain user's password, and would otherwise sign
// in to the new staff account first and enrol its authenticator app. The
// grant ends the account's sessions, pending logins and tokens.
func TestStaffGrantNeedsNewPassword(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	helpDesk := "set by the help desk for bob"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.op, "bob", identity.UserInput{Password: &helpDesk}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Identity.Login(ctx, "bob", helpDesk, remote) // the operator, as bob
	if err != nil || res.SessionID == "" {
		t.Fatalf("operator logs in as bob: %+v %v", res, err)
	}
	// ... and enrols an authenticator app of the operator's as bob's.
	bobU := e.user(t, "bob")
	e.enroll(t, &lanyard.Principal{User: bobU, Roles: bobU.Roles, RemoteAddr: remote})
	tok, err := e.svc.Identity.CreateToken(ctx, e.ad, identity.TokenInput{User: "bob", TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	admin := lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}
	before, bobBefore := e.snapshot(t), e.user(t, "bob")
	_, err = e.svc.Identity.UpdateUser(ctx, e.ada, "bob", identity.UserInput{Roles: &admin})
	wantErr(t, "grant without a password", err, lanyard.EInvalid, "set a new password when granting a staff role")
	if e.snapshot(t) != before || !reflect.DeepEqual(e.user(t, "bob"), bobBefore) {
		t.Fatal("a refused grant wrote something")
	}

	// carl, a CA manager, is between password and authenticator app.
	carl, err := e.svc.Identity.Login(ctx, "carl", totpPassword, remote)
	if err != nil || carl.ChallengeID == "" {
		t.Fatalf("carl's password step: %+v %v", carl, err)
	}
	pw := "bob's own password, from ada"
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "bob", identity.UserInput{Roles: &admin, Password: &pw}); err != nil {
		t.Fatalf("grant with a new password: %v", err)
	}
	caMgrAdmin := lanyard.Roles{lanyard.RoleUser, lanyard.RoleCAManager, lanyard.RoleAdministrator}
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "carl", identity.UserInput{Roles: &caMgrAdmin, Password: &pw}); err != nil {
		t.Fatalf("grant carl administrator: %v", err)
	}
	if _, _, err := e.svc.Identity.AuthenticateSession(ctx, res.SessionID, remote); err == nil {
		t.Error("the operator's session as bob survived the grant")
	}
	if _, err := e.svc.Identity.AuthenticateToken(ctx, tok.Secret, remote); err == nil {
		t.Error("bob's token survived the grant")
	}
	if _, err := e.svc.Identity.CompleteLogin(ctx, carl.ChallengeID, e.code(t, carl.Setup.Secret, 0), remote); err == nil {
		t.Error("carl's pending login survived the grant")
	}
	if _, err := e.svc.Identity.Login(ctx, "bob", helpDesk, remote); !lanyard.IsCode(err, lanyard.EUnauthenticated) {
		t.Errorf("the help desk's password after the grant: %v", err)
	}
	if res, err := e.svc.Identity.Login(ctx, "bob", pw, remote); err != nil || res.SecondFactor != identity.SecondFactorEnroll {
		t.Errorf("bob's new password: %+v %v (want the enrolment of bob's own app, not the operator's)", res, err)
	}
	// Removing a staff role, or keeping one, needs no password.
	if _, err := e.svc.Identity.UpdateUser(ctx, e.ada, "carl", identity.UserInput{Roles: &lanyard.Roles{lanyard.RoleUser, lanyard.RoleCAManager}}); err != nil {
		t.Fatalf("remove carl's administrator role: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
