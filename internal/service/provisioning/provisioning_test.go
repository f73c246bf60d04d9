package provisioning_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/provisioning"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// recordLeavers stands for the card workflows' leaver handling: it
// checks that it runs inside the transaction that disabled the user,
// and can fail to show that the whole deactivation rolls back.
type recordLeavers struct {
	calls []string
	after int
	fail  bool
}

func (r *recordLeavers) LeaveTx(_ context.Context, tx lanyard.Tx, p *lanyard.Principal, u, _ *lanyard.User) (func(context.Context), error) {
	got, err := tx.UserByID(u.ID)
	if err != nil {
		return nil, err
	}
	if !got.Disabled {
		return nil, errors.New("LeaveTx ran before the user was disabled in its transaction")
	}
	if r.fail {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the card workflows failed")
	}
	r.calls = append(r.calls, u.Login+" by "+p.User.Login)
	return func(context.Context) { r.after++ }, nil
}

type env struct {
	t       *testing.T
	st      *servicetest.Stack
	prov    *provisioning.Provisioning
	leavers *recordLeavers
	client  *lanyard.Principal // the SCIM client
}

func newEnv(t *testing.T, o servicetest.Options) *env {
	st := servicetest.New(t, o)
	e := &env{t: t, st: st, leavers: &recordLeavers{}}
	var err error
	e.prov, err = provisioning.New(provisioning.Config{Store: st.Store, Now: time.Now, Rand: rand.Reader, BaseURL: "https://lanyard.example",
		Leavers: e.leavers, CredentialsEnded: st.Service.Identity.PurgeTokenCache})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.prov.CreateToken(t.Context(), st.Admin, "entra")
	if err != nil {
		t.Fatal(err)
	}
	if e.client, err = e.prov.Authenticate(t.Context(), tok.Secret, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	return e
}

func user(t *testing.T, body string) *scim.User {
	t.Helper()
	m, err := scim.ReadJSON(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var u scim.User
	if err := scim.Users.Decode(m, &u); err != nil {
		t.Fatal(err)
	}
	return &u
}

func wantSCIM(t *testing.T, what string, err error, status int, typ string) {
	t.Helper()
	var se *scim.Error
	if !errors.As(err, &se) || se.Status != status || se.Type != typ {
		t.Fatalf("%s: got %v, want SCIM %d %s", what, err, status, typ)
	}
}

func (e *env) account(login string) *lanyard.User {
	e.t.Helper()
	var u *lanyard.User
	if err := e.st.Store.View(e.t.Context(), func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login); return }); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) actions(actor string) []string {
	e.t.Helper()
	var evs []*lanyard.AuditEvent
	if err := e.st.Store.View(e.t.Context(), func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Actor: actor, Limit: 1000})
		return
	}); err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Action)
	}
	return out
}

func patch(t *testing.T, s string) []scim.PatchOp {
	t.Helper()
	var req scim.PatchRequest
	if err := json.Unmarshal([]byte(s), &req); err != nil {
		t.Fatal(err)
	}
	return req.Operations
}

const entraUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"externalId":"ann","userName":"Ann.Lee@example.com","active":true,"displayName":"Ann Lee",
	"emails":[{"primary":true,"type":"work","value":"ann.lee@example.com"}],
	"name":{"formatted":"Ann Lee","familyName":"Lee","givenName":"Ann"},
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations"},
	"title":"Tour Guide"}`

func runUsers(t *testing.T, e *env) {
	ctx := t.Context()
	got, err := e.prov.CreateUser(ctx, e.client, user(t, entraUser))
	if err != nil {
		t.Fatal(err)
	}
	u := e.account("Ann.Lee@example.com")
	if u.Source != lanyard.SourceSCIM || u.ExternalID != got.ID || u.UPN != "Ann.Lee@example.com" || u.Email != "ann.lee@example.com" ||
		u.DisplayName != "Ann Lee" || u.Disabled || !slices.Equal(u.Roles, lanyard.Roles{lanyard.RoleUser}) {
		t.Fatalf("account %+v", u)
	}
	if got.ExternalID != "ann" || got.Name.GivenName != "Ann" || *got.Active != true || got.Meta.Location != "https://lanyard.example/scim/v2/Users/"+got.ID {
		t.Fatalf("resource %+v", got)
	}
	// Entra ID asks for the user by userName, in whatever case.
	for _, f := range []string{`userName eq "ann.lee@EXAMPLE.com"`, `externalId eq "ann"`, `id eq "` + got.ID + `"`, `name.givenName sw "an"`} {
		lr, err := e.prov.ListUsers(ctx, e.client, f, 1, 100)
		if err != nil || lr.TotalResults != 1 || lr.Resources[0].(*scim.User).ID != got.ID {
			t.Fatalf("filter %s: %+v, %v", f, lr, err)
		}
	}
	lr, err := e.prov.ListUsers(ctx, e.client, `externalId eq "ANN"`, 1, 100) // externalId is caseExact
	if err != nil || lr.TotalResults != 0 {
		t.Fatalf("externalId eq ANN: %+v %v", lr, err)
	}
	_, err = e.prov.ListUsers(ctx, e.client, `userName eq`, 1, 100)
	wantSCIM(t, "bad filter", err, 400, scim.TypeInvalidFilter)

	// Entra ID's update: replace by filter path and active as a string.
	got, err = e.prov.PatchUser(ctx, e.client, got.ID, patch(t, `{"Operations":[
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann@example.com"},
		{"op":"Replace","path":"displayName","value":"Ann Lee-Smith"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u = e.account("Ann.Lee@example.com"); u.Email != "ann@example.com" || u.DisplayName != "Ann Lee-Smith" {
		t.Fatalf("after patch: %+v", u)
	}
	// A PATCH that changes nothing records nothing.
	before := len(e.actions("scim:entra"))
	if _, err := e.prov.PatchUser(ctx, e.client, got.ID, patch(t, `{"Operations":[{"op":"Replace","path":"displayName","value":"Ann Lee-Smith"}]}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.actions("scim:entra")); n != before {
		t.Fatalf("a no-op PATCH added %d events", n-before)
	}

	// The user has an API token; deactivation ends it and hands the
	// cards to the leaver handling, in the same transaction.
	tok, err := e.st.Service.Identity.CreateToken(ctx, e.st.Admin, identity.TokenInput{User: u.Login})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Service.Identity.AuthenticateToken(ctx, tok.Secret, ""); err != nil {
		t.Fatal(err)
	}
	e.leavers.fail = true
	_, err = e.prov.PatchUser(ctx, e.client, got.ID, patch(t, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`))
	servicetest.WantErr(t, "deactivate with failing leavers", err, lanyard.EUnavailable, "card workflows")
	if u = e.account(u.Login); u.Disabled {
		t.Fatal("a failed deactivation left the user disabled")
	}
	if _, err := e.st.Service.Identity.AuthenticateToken(ctx, tok.Secret, ""); err != nil {
		t.Fatalf("a failed deactivation ended the token: %v", err)
	}
	e.leavers.fail = false
	got, err = e.prov.PatchUser(ctx, e.client, got.ID, patch(t, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if u = e.account(u.Login); !u.Disabled || *got.Active {
		t.Fatalf("not deactivated: %+v", u)
	}
	if !slices.Equal(e.leavers.calls, []string{"Ann.Lee@example.com by scim:entra"}) || e.leavers.after != 1 {
		t.Fatalf("leavers: %v after %d", e.leavers.calls, e.leavers.after)
	}
	if _, err := e.st.Service.Identity.AuthenticateToken(ctx, tok.Secret, ""); err == nil {
		t.Fatal("the deactivated user's API token still works")
	}
	// Reactivation (Okta: path-less replace) enables the account only.
	if _, err = e.prov.PatchUser(ctx, e.client, got.ID, patch(t, `{"Operations":[{"op":"replace","value":{"active":true}}]}`)); err != nil {
		t.Fatal(err)
	}
	if u = e.account(u.Login); u.Disabled || len(e.leavers.calls) != 1 {
		t.Fatalf("reactivated: %+v, leavers %v", u, e.leavers.calls)
	}
	// PUT replaces: left-out attributes are cleared, active false leaves.
	put := user(t, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Ann.Lee@example.com","active":false}`)
	if got, err = e.prov.ReplaceUser(ctx, e.client, got.ID, put); err != nil {
		t.Fatal(err)
	}
	if u = e.account(u.Login); !u.Disabled || u.Email != "" || u.DisplayName != "" || got.Name != nil || len(e.leavers.calls) != 2 {
		t.Fatalf("after PUT: %+v %+v", u, got)
	}
	want := []string{"scim.user.create", "scim.user.update", "scim.user.deactivate", "scim.user.reactivate", "scim.user.deactivate"}
	if got := e.actions("scim:entra"); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
}

func runCollisions(t *testing.T, e *env) {
	ctx := t.Context()
	login, upn := "carl@example.com", "dora@example.com"
	for _, in := range []identity.UserInput{{Login: login}, {Login: "dora", UPN: &upn}} {
		if _, err := e.st.Service.Identity.CreateUser(ctx, e.st.Admin, in); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"carl@example.com"}`))
	wantSCIM(t, "userName of a local account", err, 409, scim.TypeUniqueness)
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"DORA@example.com"}`))
	wantSCIM(t, "UPN of a local account", err, 409, scim.TypeUniqueness)
	if u := e.account(login); u.Source != lanyard.SourceLocal {
		t.Fatalf("local account changed: %+v", u)
	}
	a, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"eve@example.com"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"eve@example.com"}`))
	wantSCIM(t, "userName of a SCIM user", err, 409, scim.TypeUniqueness)
	_, err = e.prov.PatchUser(ctx, e.client, a.ID, patch(t, `{"Operations":[{"op":"replace","path":"userName","value":"carl@example.com"}]}`))
	wantSCIM(t, "rename onto a local account", err, 409, scim.TypeUniqueness)
	// Logins compare ignoring case against SCIM's userName (RFC 7643
	// section 4.1.1): "Quinn" cannot sit beside local "quinn".
	if _, err := e.st.Service.Identity.CreateUser(ctx, e.st.Admin, identity.UserInput{Login: "quinn"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"Quinn"}`))
	wantSCIM(t, "userName of a local login in another case", err, 409, scim.TypeUniqueness)
	_, err = e.prov.PatchUser(ctx, e.client, a.ID, patch(t, `{"Operations":[{"op":"replace","path":"userName","value":"QUINN"}]}`))
	wantSCIM(t, "rename onto a local login in another case", err, 409, scim.TypeUniqueness)
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"EVE@example.com"}`))
	wantSCIM(t, "userName of a SCIM user in another case", err, 409, scim.TypeUniqueness)
	sam, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"Sam"}`))
	if err != nil {
		t.Fatal(err)
	}
	if lr, err := e.prov.ListUsers(ctx, e.client, `userName eq "sAM"`, 1, 10); err != nil || lr.TotalResults != 1 || lr.Resources[0].(*scim.User).ID != sam.ID {
		t.Fatalf("userName eq in another case: %+v %v", lr, err)
	}
	if u := e.account("quinn"); u.Source != lanyard.SourceLocal {
		t.Fatalf("local account changed: %+v", u)
	}
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"no spaces allowed"}`))
	wantSCIM(t, "bad userName", err, 400, scim.TypeInvalidValue)
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"fay","emails":[{"value":"not an address"}]}`))
	wantSCIM(t, "bad e-mail", err, 400, scim.TypeInvalidValue)
	_, err = e.prov.GetUser(ctx, e.client, "nope")
	wantSCIM(t, "unknown id", err, 404, "")
	// A local account is not a SCIM resource.
	_, err = e.prov.GetUser(ctx, e.client, e.account(login).ExternalID)
	wantSCIM(t, "local account by its empty id", err, 404, "")
}

func runGroupsAndDelete(t *testing.T, e *env) {
	ctx := t.Context()
	var ids []string
	for _, n := range []string{"gil", "hal", "ida"} {
		u, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"`+n+`@example.com","externalId":"`+n+`","emails":[{"value":"`+n+`@example.com","type":"work"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	// The manager is resolved to the manager's e-mail.
	if _, err := e.prov.PatchUser(ctx, e.client, ids[1], patch(t, `{"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"`+ids[0]+`"}]}`)); err != nil {
		t.Fatal(err)
	}
	if u := e.account("hal@example.com"); u.ManagerEmail != "gil@example.com" {
		t.Fatalf("manager e-mail %q", u.ManagerEmail)
	}
	g, err := e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "Card Staff", Members: []scim.Ref{{Value: ids[0]}, {Value: ids[1]}}})
	if err != nil {
		t.Fatal(err)
	}
	groups := func(login string) []string { return e.account(login).Groups }
	if !slices.Equal(groups("gil@example.com"), []string{"Card Staff"}) || !slices.Equal(groups("ida@example.com"), []string{}) {
		t.Fatalf("groups %v %v", groups("gil@example.com"), groups("ida@example.com"))
	}
	_, err = e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "card staff"})
	wantSCIM(t, "same group name", err, 409, scim.TypeUniqueness)
	_, err = e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "X", Members: []scim.Ref{{Value: "nope"}}})
	wantSCIM(t, "unknown member", err, 400, scim.TypeInvalidValue)
	// A name that reads as a directory group's DN is refused, on create
	// and on rename.
	_, err = e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "CN=Domain Admins,CN=Users,DC=example,DC=com", Members: []scim.Ref{{Value: ids[0]}}})
	wantSCIM(t, "DN-like group name", err, 400, scim.TypeInvalidValue)
	_, err = e.prov.PatchGroup(ctx, e.client, g.ID, patch(t, `{"Operations":[{"op":"replace","path":"displayName","value":"cn=staff,dc=example"}]}`))
	wantSCIM(t, "rename to a DN-like name", err, 400, scim.TypeInvalidValue)
	// Entra ID: add one, remove one listed in the value, rename.
	if _, err = e.prov.PatchGroup(ctx, e.client, g.ID, patch(t, `{"Operations":[
		{"op":"Add","path":"members","value":[{"value":"`+ids[2]+`"}]},
		{"op":"Remove","path":"members","value":[{"value":"`+ids[0]+`"}]},
		{"op":"Replace","path":"displayName","value":"Card Operators"}]}`)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups("gil@example.com"), []string{}) || !slices.Equal(groups("hal@example.com"), []string{"Card Operators"}) ||
		!slices.Equal(groups("ida@example.com"), []string{"Card Operators"}) {
		t.Fatalf("after patch: %v %v %v", groups("gil@example.com"), groups("hal@example.com"), groups("ida@example.com"))
	}
	// Adding a member already in records nothing.
	before := len(e.actions("scim:entra"))
	if _, err = e.prov.PatchGroup(ctx, e.client, g.ID, patch(t, `{"Operations":[{"op":"Add","path":"members","value":[{"value":"`+ids[2]+`"}]}]}`)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.actions("scim:entra")); n != before {
		t.Fatalf("a no-op group PATCH added %d events", n-before)
	}
	got, err := e.prov.GetGroup(ctx, e.client, g.ID, true)
	if err != nil || len(got.Members) != 2 {
		t.Fatalf("group %+v %v", got, err)
	}
	lr, err := e.prov.ListGroups(ctx, e.client, `displayName eq "card operators"`, 1, 10, false)
	if err != nil || lr.TotalResults != 1 || lr.Resources[0].(*scim.Group).Members != nil {
		t.Fatalf("list groups: %+v %v", lr, err)
	}
	lr, err = e.prov.ListGroups(ctx, e.client, `members[value eq "`+ids[2]+`"]`, 1, 10, true)
	if err != nil || lr.TotalResults != 1 {
		t.Fatalf("list groups by member: %+v %v", lr, err)
	}
	hal, err := e.prov.GetUser(ctx, e.client, ids[1])
	if err != nil || len(hal.Groups) != 1 || hal.Groups[0].Display != "Card Operators" {
		t.Fatalf("hal's groups %+v %v", hal, err)
	}

	// DELETE: the account stays, disabled, out of its groups; the
	// endpoint forgets it; creating the userName again brings it back.
	if err := e.prov.DeleteUser(ctx, e.client, ids[2]); err != nil {
		t.Fatal(err)
	}
	if u := e.account("ida@example.com"); !u.Disabled || len(u.Groups) != 0 {
		t.Fatalf("deleted: %+v", u)
	}
	_, err = e.prov.GetUser(ctx, e.client, ids[2])
	wantSCIM(t, "deleted user", err, 404, "")
	err = e.prov.DeleteUser(ctx, e.client, ids[2])
	wantSCIM(t, "deleted twice", err, 404, "")
	if lr, _ := e.prov.ListUsers(ctx, e.client, "", 1, 100); lr.TotalResults != 2 {
		t.Fatalf("listed %d users", lr.TotalResults)
	}
	back, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"ida@example.com","externalId":"ida"}`))
	if err != nil || back.ID != ids[2] || e.account("ida@example.com").Disabled {
		t.Fatalf("back: %+v %v", back, err)
	}
	if err := e.prov.DeleteGroup(ctx, e.client, g.ID); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(groups("hal@example.com"), []string{}) {
		t.Fatalf("after group delete: %v", groups("hal@example.com"))
	}
	// Paging.
	lr, err = e.prov.ListUsers(ctx, e.client, "", 2, 1)
	if err != nil || lr.TotalResults != 3 || lr.ItemsPerPage != 1 || lr.StartIndex != 2 || lr.Resources[0].(*scim.User).ID != ids[1] {
		t.Fatalf("page: %+v %v", lr, err)
	}
	if lr, err = e.prov.ListUsers(ctx, e.client, `userName ew "@example.com"`, 3, 5); err != nil || lr.TotalResults != 3 || lr.ItemsPerPage != 1 {
		t.Fatalf("filtered page: %+v %v", lr, err)
	}
}

func runTokens(t *testing.T, e *env) {
	ctx := t.Context()
	tok, err := e.prov.CreateToken(ctx, e.st.Admin, "okta")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Secret, provisioning.TokenPrefix) || tok.Token.Prefix != tok.Secret[:12] {
		t.Fatalf("token %+v", tok.Token)
	}
	_, err = e.prov.CreateToken(ctx, e.st.Admin, "okta")
	servicetest.WantErr(t, "same name", err, lanyard.EConflict, "okta")
	p, err := e.prov.Authenticate(ctx, tok.Secret, "")
	if err != nil || p.User.Login != "scim:okta" || len(p.Roles) != 0 || p.User.ID != 0 {
		t.Fatalf("principal %+v %v", p, err)
	}
	// Neither kind of token works as the other.
	if _, err := e.st.Service.Identity.AuthenticateToken(ctx, tok.Secret, ""); err == nil {
		t.Fatal("a SCIM token authenticated to the API")
	}
	_, err = e.prov.Authenticate(ctx, e.st.Token, "")
	servicetest.WantErr(t, "API token at SCIM", err, lanyard.EUnauthenticated, "SCIM token")
	// Only administrators manage them.
	op := &lanyard.Principal{User: &lanyard.User{Login: "op"}, Roles: lanyard.Roles{lanyard.RoleOperator}}
	_, err = e.prov.CreateToken(ctx, op, "x")
	servicetest.WantErr(t, "operator creates", err, lanyard.EForbidden, "administrators")
	_, err = e.prov.CreateToken(ctx, e.st.Admin, " ")
	servicetest.WantErr(t, "empty name", err, lanyard.EInvalid, "name")
	_, err = e.prov.CreateToken(ctx, e.st.Admin, "/2027")
	servicetest.WantErr(t, "no client in the name", err, lanyard.EInvalid, "client")
	rot, err := e.prov.CreateToken(ctx, e.st.Admin, "okta/2027")
	if err != nil || rot.Token.Client != "okta" {
		t.Fatalf("rotated token %+v %v", rot, err)
	}
	if _, err := e.prov.RevokeToken(ctx, e.st.Admin, tok.Token.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.prov.Authenticate(ctx, tok.Secret, "")
	servicetest.WantErr(t, "revoked", err, lanyard.EUnauthenticated, "SCIM token")
	list, err := e.prov.ListTokens(ctx, e.st.Admin)
	if err != nil || len(list) != 3 || !list[1].Revoked || list[2].Client != "okta" {
		t.Fatalf("tokens %+v %v", list, err)
	}
	// No secret reaches the audit log.
	var evs []*lanyard.AuditEvent
	e.st.Store.View(ctx, func(tx lanyard.Tx) (err error) { evs, err = tx.ListAudit(lanyard.AuditFilter{Limit: 1000}); return })
	for _, ev := range evs {
		if strings.Contains(string(ev.Details), tok.Secret[12:]) {
			t.Fatalf("event %s holds the secret", ev.Action)
		}
	}
}

func runAll(t *testing.T, o func() servicetest.Options) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *env)
	}{{"Users", runUsers}, {"Collisions", runCollisions}, {"GroupsAndDelete", runGroupsAndDelete}, {"Tokens", runTokens}, {"Clients", runClients}, {"Revive", runRevive}, {"FilterCap", runFilterCap}, {"WiredDeleteRevokes", runWiredDeleteRevokes}} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t, o())) })
	}
}

func TestProvisioningSQLite(t *testing.T) {
	runAll(t, func() servicetest.Options { return servicetest.Options{} })
}

// client authenticates a new token named name.
func (e *env) newClient(name string) *lanyard.Principal {
	e.t.Helper()
	tok, err := e.prov.CreateToken(e.t.Context(), e.st.Admin, name)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.prov.Authenticate(e.t.Context(), tok.Secret, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// runClients: a SCIM client sees and changes only the users and groups
// it pushed; a replacement token of the same client (name "entra/…")
// manages its predecessor's.
func runClients(t *testing.T, e *env) {
	ctx := t.Context()
	u, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"jo@example.com","externalId":"jo"}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "Entra Staff", Members: []scim.Ref{{Value: u.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	okta := e.newClient("okta")
	for _, f := range []string{"", `userName eq "jo@example.com"`, `externalId eq "jo"`, `id eq "` + u.ID + `"`, `userName sw "jo"`} {
		if lr, err := e.prov.ListUsers(ctx, okta, f, 1, 100); err != nil || lr.TotalResults != 0 {
			t.Errorf("okta lists users %q: %+v %v", f, lr, err)
		}
	}
	for _, f := range []string{"", `displayName eq "Entra Staff"`, `id eq "` + g.ID + `"`} {
		if lr, err := e.prov.ListGroups(ctx, okta, f, 1, 100, true); err != nil || lr.TotalResults != 0 {
			t.Errorf("okta lists groups %q: %+v %v", f, lr, err)
		}
	}
	_, err = e.prov.GetUser(ctx, okta, u.ID)
	wantSCIM(t, "okta gets entra's user", err, 404, "")
	_, err = e.prov.PatchUser(ctx, okta, u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":false}]}`))
	wantSCIM(t, "okta deactivates entra's user", err, 404, "")
	wantSCIM(t, "okta deletes entra's user", e.prov.DeleteUser(ctx, okta, u.ID), 404, "")
	_, err = e.prov.GetGroup(ctx, okta, g.ID, true)
	wantSCIM(t, "okta gets entra's group", err, 404, "")
	_, err = e.prov.PatchGroup(ctx, okta, g.ID, patch(t, `{"Operations":[{"op":"replace","path":"displayName","value":"Mine"}]}`))
	wantSCIM(t, "okta renames entra's group", err, 404, "")
	wantSCIM(t, "okta deletes entra's group", e.prov.DeleteGroup(ctx, okta, g.ID), 404, "")
	_, err = e.prov.CreateGroup(ctx, okta, &scim.Group{DisplayName: "Okta", Members: []scim.Ref{{Value: u.ID}}})
	wantSCIM(t, "okta groups entra's user", err, 400, scim.TypeInvalidValue)
	if a := e.account("jo@example.com"); a.Disabled || !slices.Equal(a.Groups, []string{"Entra Staff"}) {
		t.Fatalf("entra's user changed: %+v", a)
	}
	// A replacement token of client entra manages what entra pushed.
	next := e.newClient("entra/2027")
	if _, err := e.prov.GetUser(ctx, next, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.prov.PatchGroup(ctx, next, g.ID, patch(t, `{"Operations":[{"op":"replace","path":"displayName","value":"Entra Staff 2"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.prov.DeleteUser(ctx, next, u.ID); err != nil {
		t.Fatal(err)
	}
}

// setRoles gives the account login roles, as an administrator would.
func (e *env) setRoles(login string, roles ...lanyard.Role) {
	e.t.Helper()
	if err := e.st.Store.Update(e.t.Context(), func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		u.Roles = roles
		return tx.UpdateUser(u)
	}); err != nil {
		e.t.Fatal(err)
	}
}

// runRevive: a deleted SCIM userName comes back only to the same client
// with the same externalId; deactivation, deletion and reactivation
// take staff roles away (audited), so no account comes back with them.
func runRevive(t *testing.T, e *env) {
	ctx := t.Context()
	u, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"kim@example.com","externalId":"k1"}`))
	if err != nil {
		t.Fatal(err)
	}
	staff := []lanyard.Role{lanyard.RoleUser, lanyard.RoleOperator}
	e.setRoles("kim@example.com", staff...)
	if _, err := e.prov.PatchUser(ctx, e.client, u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":false}]}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.account("kim@example.com").Roles; !slices.Equal(got, lanyard.Roles{lanyard.RoleUser}) {
		t.Fatalf("roles after deactivation %v", got)
	}
	e.setRoles("kim@example.com", staff...) // given while disabled, say
	if _, err := e.prov.PatchUser(ctx, e.client, u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":true}]}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.account("kim@example.com").Roles; !slices.Equal(got, lanyard.Roles{lanyard.RoleUser}) {
		t.Fatalf("roles after reactivation %v", got)
	}
	e.setRoles("kim@example.com", staff...)
	if err := e.prov.DeleteUser(ctx, e.client, u.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.account("kim@example.com").Roles; !slices.Equal(got, lanyard.Roles{lanyard.RoleUser}) {
		t.Fatalf("roles after delete %v", got)
	}
	var evs []*lanyard.AuditEvent
	if err := e.st.Store.View(ctx, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Actor: "scim:entra", Limit: 100})
		return
	}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if strings.Contains(string(ev.Details), `"roles_removed":["operator"]`) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d events record the operator role taken away, want 3 (deactivate, reactivate, delete)", n)
	}
	// A new person given the freed userName does not get the account.
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"kim@example.com","externalId":"k2"}`))
	wantSCIM(t, "revive with another externalId", err, 409, scim.TypeUniqueness)
	_, err = e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"kim@example.com"}`))
	wantSCIM(t, "revive without externalId", err, 409, scim.TypeUniqueness)
	_, err = e.prov.CreateUser(ctx, e.newClient("okta"), user(t, `{"userName":"kim@example.com","externalId":"k1"}`))
	wantSCIM(t, "revive by another client", err, 409, scim.TypeUniqueness)
	back, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"kim@example.com","externalId":"k1"}`))
	if err != nil || back.ID != u.ID {
		t.Fatalf("revive by the same client and externalId: %+v %v", back, err)
	}
	if a := e.account("kim@example.com"); a.Disabled || !slices.Equal(a.Roles, lanyard.Roles{lanyard.RoleUser}) {
		t.Fatalf("revived: %+v", a)
	}
}

// runFilterCap: a filter without an index evaluates at most
// FilterScanLimit users or groups; above it the client gets 400
// tooMany, while the indexed lookups and plain paging still answer.
func runFilterCap(t *testing.T, e *env) {
	ctx := t.Context()
	var gids []string
	for _, n := range []string{"fa", "fb", "fc"} {
		if _, err := e.prov.CreateUser(ctx, e.client, user(t, `{"userName":"`+n+`"}`)); err != nil {
			t.Fatal(err)
		}
		g, err := e.prov.CreateGroup(ctx, e.client, &scim.Group{DisplayName: "g" + n})
		if err != nil {
			t.Fatal(err)
		}
		gids = append(gids, g.ID)
	}
	capped := func(limit int) *provisioning.Provisioning {
		p, err := provisioning.New(provisioning.Config{Store: e.st.Store, Now: time.Now, Rand: rand.Reader, FilterScanLimit: limit})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := capped(2)
	_, err := small.ListUsers(ctx, e.client, `userName sw "f"`, 1, 10)
	wantSCIM(t, "unindexed user filter over the cap", err, 400, scim.TypeTooMany)
	_, err = small.ListGroups(ctx, e.client, `displayName sw "g"`, 1, 10, false)
	wantSCIM(t, "unindexed group filter over the cap", err, 400, scim.TypeTooMany)
	if lr, err := small.ListUsers(ctx, e.client, `userName eq "fb"`, 1, 10); err != nil || lr.TotalResults != 1 {
		t.Errorf("indexed filter: %+v %v", lr, err)
	}
	if lr, err := small.ListGroups(ctx, e.client, `id eq "`+gids[1]+`"`, 1, 10, false); err != nil || lr.TotalResults != 1 {
		t.Errorf("indexed group filter: %+v %v", lr, err)
	}
	if lr, err := small.ListUsers(ctx, e.client, "", 1, 10); err != nil || lr.TotalResults != 3 {
		t.Errorf("no filter: %+v %v", lr, err)
	}
	if lr, err := small.ListGroups(ctx, e.client, "", 1, 10, false); err != nil || lr.TotalResults != 3 {
		t.Errorf("no group filter: %+v %v", lr, err)
	}
	at := capped(3)
	if lr, err := at.ListUsers(ctx, e.client, `userName sw "f"`, 1, 10); err != nil || lr.TotalResults != 3 {
		t.Errorf("at the cap: %+v %v", lr, err)
	}
	if lr, err := at.ListGroups(ctx, e.client, `displayName sw "g"`, 1, 10, false); err != nil || lr.TotalResults != 3 {
		t.Errorf("groups at the cap: %+v %v", lr, err)
	}
}
