package directory_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// runCases runs the directory capability's tests on the stores open
// makes (SQLite here, PostgreSQL with the integration tag).
func runCases(t *testing.T, open func(t *testing.T) lanyard.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Sources", testSources},
		{"FullThenIncremental", testFullThenIncremental},
		{"Leavers", testLeavers},
		{"LeaverRevoke", testLeaverRevoke},
		{"LeaverRefused", testLeaverRefused},
		{"AdminDisable", testAdminDisable},
		{"BadMailAppliesRest", testBadMailAppliesRest},
		{"LeaverMovedOut", testLeaverMovedOut},
		{"ContainerPolicy", testContainerPolicy},
		{"UPNChange", testUPNChange},
		{"SourceDeleted", testSourceDeleted},
		{"Mover", testMover},
		{"Collisions", testCollisions},
		{"Interrupted", testInterrupted},
		{"DryRun", testDryRun},
		{"SignIn", testSignIn},
		{"RunDue", testRunDue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newEnv(t, open(t))) })
	}
}

const (
	staffDN   = "cn=staff,ou=groups,dc=example,dc=test"
	financeDN = "cn=finance,ou=groups,dc=example,dc=test"
)

func testSources(t *testing.T, e *env) {
	ctx := t.Context()
	pw := "pw"
	if e.src.HasBindPassword != true || e.src.SealedBindPassword != nil {
		t.Errorf("created source shows password %v / %x", e.src.HasBindPassword, e.src.SealedBindPassword)
	}
	// The raw row holds the password sealed, never in the clear.
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		raw, err := tx.DirectorySourceByID(e.src.ID)
		if err == nil && (len(raw.SealedBindPassword) == 0 || bytes.Contains(raw.SealedBindPassword, []byte("s3cret-bind"))) {
			t.Errorf("stored bind password %q", raw.SealedBindPassword)
		}
		return err
	})
	for _, ev := range e.events(t, "directory_source.create") {
		if bytes.Contains(ev.Details, []byte("s3cret")) {
			t.Errorf("audit event holds the password: %s", ev.Details)
		}
	}
	operator := &lanyard.Principal{User: &lanyard.User{ID: 99, Login: "olga"}, Roles: lanyard.Roles{lanyard.RoleOperator}}
	_, err := e.dir.CreateSource(ctx, operator, directory.SourceInput{Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x"})
	servicetest.WantErr(t, "operator creates", err, lanyard.EForbidden, "administrator")
	_, err = e.dir.Sources(ctx, operator)
	servicetest.WantErr(t, "operator lists", err, lanyard.EForbidden, "administrator")
	_, err = e.dir.Sync(ctx, operator, e.src.ID, true)
	servicetest.WantErr(t, "operator syncs", err, lanyard.EForbidden, "administrator")
	err = e.dir.DeleteSource(ctx, operator, e.src.ID)
	servicetest.WantErr(t, "operator deletes", err, lanyard.EForbidden, "administrator")

	for name, in := range map[string]directory.SourceInput{
		"clear text":  {Name: "x", Kind: "ad", URL: "ldap://dc.example.test", BaseDN: "dc=x"},
		"kind":        {Name: "x", Kind: "novell", URL: "ldaps://x", BaseDN: "dc=x"},
		"no base":     {Name: "x", Kind: "ad", URL: "ldaps://x"},
		"ldaps+tls":   {Name: "x", Kind: "ad", URL: "ldaps://x", StartTLS: true, BaseDN: "dc=x"},
		"ca":          {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", CAPEM: "nope"},
		"mapping":     {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", Mapping: "[1]"},
		"leaver":      {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", LeaverAction: "withdraw"},
		"name":        {Name: "a b", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x"},
		"interval":    {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", SyncInterval: 1},
		"page size":   {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", PageSize: -1},
		"scheme http": {Name: "x", Kind: "ad", URL: "http://x", BaseDN: "dc=x"},
		"filter":      {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", BindDN: "cn=a,dc=x", BindPassword: &pw, UserFilter: "(uid=a"},
		"mapping key": {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", BindDN: "cn=a,dc=x", BindPassword: &pw, Mapping: `{"shoe":"size"}`},
		"anonymous":   {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x"},
		"base dn":     {Name: "x", Kind: "ad", URL: "ldaps://x", BaseDN: "not a dn", BindDN: "cn=a,dc=x", BindPassword: &pw},
	} {
		_, err := e.dir.CreateSource(ctx, e.admin, in)
		servicetest.WantErr(t, name, err, lanyard.EInvalid, "")
	}
	if _, err := e.dir.CreateSource(ctx, e.admin, directory.SourceInput{Name: "local", Kind: "openldap", URL: "ldap://127.0.0.1:3389", BaseDN: "dc=x",
		BindDN: "cn=admin,dc=x", BindPassword: &pw}); err != nil {
		t.Errorf("plain ldap:// on loopback: %v", err)
	}
	_, err = e.dir.CreateSource(ctx, e.admin, directory.SourceInput{Name: "corp", Kind: "ad", URL: "ldaps://x", BaseDN: "dc=x", BindDN: "cn=a,dc=x", BindPassword: &pw})
	servicetest.WantErr(t, "duplicate", err, lanyard.EConflict, "already exists")

	// An update that changes where the password goes asks for it again:
	// else an administrator could send it to a server of their own.
	ca := caPEM(t)
	for name, in := range map[string]directory.SourceInput{
		"url":       {Name: "corp", Kind: "ad", URL: "ldaps://evil.example.test", BindDN: "CN=svc,DC=example,DC=test", BaseDN: "DC=example,DC=test"},
		"start tls": {Name: "corp", Kind: "ad", URL: "ldap://dc.example.test", StartTLS: true, BindDN: "CN=svc,DC=example,DC=test", BaseDN: "DC=example,DC=test"},
		"ca":        {Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test", CAPEM: ca, BindDN: "CN=svc,DC=example,DC=test", BaseDN: "DC=example,DC=test"},
		"bind dn":   {Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test", BindDN: "CN=other,DC=example,DC=test", BaseDN: "DC=example,DC=test"},
	} {
		_, err := e.dir.UpdateSource(ctx, e.admin, e.src.ID, in)
		servicetest.WantErr(t, "password kept while the "+name+" changes", err, lanyard.EInvalid, "enter the bind password again")
	}
	if got, _ := e.dir.GetSource(ctx, e.admin, e.src.ID); got.URL != "ldaps://dc.example.test" || got.BindDN != "CN=svc,DC=example,DC=test" {
		t.Errorf("a refused update changed the source: %+v", got)
	}
	// With the password again it is taken; an update that keeps them
	// keeps the password (sealed again under the new name), and the
	// reader gets it.
	if _, err := e.dir.UpdateSource(ctx, e.admin, e.src.ID, directory.SourceInput{Name: "corp", Kind: "ad", URL: "ldaps://dc2.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BindPassword: &[]string{"s3cret-bind"}[0], BaseDN: "DC=example,DC=test", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	up, err := e.dir.UpdateSource(ctx, e.admin, e.src.ID, directory.SourceInput{Name: "corp2", Kind: "ad", URL: "ldaps://dc2.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BaseDN: "DC=example,DC=test", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if !up.HasBindPassword || up.Name != "corp2" {
		t.Errorf("updated source %+v", up)
	}
	e.r.full = &directory.Snapshot{State: "s1"}
	e.sync(t, false)
	if e.r.password != "s3cret-bind" {
		t.Errorf("the reader got bind password %q", e.r.password)
	}
	if err := e.dir.DeleteSource(ctx, e.admin, e.src.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.dir.GetSource(ctx, e.admin, e.src.ID)
	servicetest.WantErr(t, "deleted", err, lanyard.ENotFound, "")
}

func testFullThenIncremental(t *testing.T, e *env) {
	ada, bob := entry("ada", "g-ada", "CN=Staff, OU=Groups,DC=example,DC=test"), entry("bob", "g-bob")
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{ada, bob}, State: "usn-10",
		Problems: []directory.Problem{{DN: "CN=weird,DC=example,DC=test", Message: "no objectGUID"}}}
	rep := e.sync(t, false)
	if !rep.Full || rep.Created != 2 || rep.Read != 2 || len(rep.Errors) != 1 || rep.Errors[0].DN != "CN=weird,DC=example,DC=test" {
		t.Errorf("first sync report %+v", rep)
	}
	u := e.user(t, "ada")
	if u.Source != lanyard.SourceLDAP || u.SourceID != e.src.ID || u.ExternalID != "g-ada" || u.UPN != "ada@example.test" ||
		u.ManagerEmail != "boss@example.test" || !slices.Equal(u.Groups, []string{staffDN}) || u.DN != "cn=ada,ou=staff,dc=example,dc=test" || u.PasswordHash != "" ||
		!slices.Equal(u.Roles, lanyard.Roles{lanyard.RoleUser}) {
		t.Errorf("ada = %+v", u)
	}
	src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID)
	if src.SyncState != "usn-10" || src.LastReport == nil || src.LastReport.Created != 2 {
		t.Errorf("source after sync: state %q report %+v", src.SyncState, src.LastReport)
	}
	if n := len(e.events(t, "directory.sync")); n != 1 {
		t.Errorf("%d directory.sync events, want 1 (one batch)", n)
	}

	// Roles are Lanyard's: a sync keeps them.
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error {
		u.Roles = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}
		return tx.UpdateUser(u)
	})
	ada.DisplayName, ada.Login = "Ada Lovelace", "ada.l"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{ada}, State: "usn-11"}
	rep = e.sync(t, false)
	if rep.Full || rep.Updated != 1 || rep.Unchanged != 0 || len(rep.Changes) != 1 || !slices.Equal(rep.Changes[0].Fields, []string{"login", "display_name"}) {
		t.Errorf("incremental report %+v", rep)
	}
	if !slices.Equal(e.r.states, []string{"usn-10"}) {
		t.Errorf("Incremental asked from %q", e.r.states)
	}
	u = e.user(t, "ada.l")
	if u.DisplayName != "Ada Lovelace" || !u.Roles.Has(lanyard.RoleOperator) || u.ExternalID != "g-ada" {
		t.Errorf("ada after rename = %+v", u)
	}
	e.r.delta = &directory.Delta{Changed: []directory.Entry{ada}, State: "usn-12"}
	if rep = e.sync(t, false); rep.Unchanged != 1 || rep.Updated != 0 {
		t.Errorf("same entry again: %+v", rep)
	}
}

// leaverEnv syncs ada and bob and gives ada an issued card and a session.
func leaverEnv(t *testing.T, e *env) (*lanyard.Card, *lanyard.Certificate) {
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada"), entry("bob", "g-bob")}, State: "s1"}
	e.sync(t, false)
	card, cert := e.issued(t, e.user(t, "ada"), "5001")
	return card, cert
}

func testLeavers(t *testing.T, e *env) {
	card, cert := leaverEnv(t, e)
	ada := e.user(t, "ada")
	// A card whose issue waits for approval: it must not complete later.
	pending := storetest.NewCard("5009", ada.ID)
	pending.State = lanyard.CardPending
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreateCard(pending) })
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error {
		return tx.CreateSession(&lanyard.Session{Hash: []byte("sess-ada-hash-0123456789abcdef01"), UserID: ada.ID, CSRFToken: "c", CreatedAt: t0, ExpiresAt: t0.Add(1e12)})
	})
	// ada is disabled in the directory, bob deleted from it.
	gone := entry("ada", "g-ada")
	gone.Disabled = true
	e.r.delta = &directory.Delta{Changed: []directory.Entry{gone}, Deleted: []string{"g-bob", "g-unknown"}, State: "s2"}
	rep := e.sync(t, false)
	if rep.Disabled != 2 || rep.CardsChanged != 2 {
		t.Errorf("report %+v", rep)
	}
	if c := e.card(t, pending.ID); c.State != lanyard.CardRevoked || c.RevocationReason != lanyard.CardWithdrawn {
		t.Errorf("leaver's pending card is %s (%s)", c.State, c.RevocationReason)
	}
	if !e.user(t, "ada").Disabled || !e.user(t, "bob").Disabled {
		t.Error("leavers not disabled")
	}
	if c := e.card(t, card.ID); c.State != lanyard.CardDisabled {
		t.Errorf("leaver's card is %s", c.State)
	}
	if c := e.cert(t, cert.ID); !c.OnHold() || c.Status == lanyard.CertRevoked {
		t.Errorf("leaver's certificate: status %s, held %v", c.Status, c.HeldAt)
	}
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		_, err := tx.SessionByHash([]byte("sess-ada-hash-0123456789abcdef01"))
		if !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("leaver's session: %v", err)
		}
		return nil
	})
	if evs := e.events(t, "card.disable"); len(evs) != 1 {
		t.Errorf("%d card.disable events", len(evs))
	}
	// Back in the directory: the account is enabled, the card stays
	// disabled until an operator enables it.
	e.r.delta = &directory.Delta{Changed: []directory.Entry{entry("ada", "g-ada")}, State: "s3"}
	if rep = e.sync(t, false); rep.Enabled != 1 {
		t.Errorf("re-enable report %+v", rep)
	}
	if e.user(t, "ada").Disabled || e.card(t, card.ID).State != lanyard.CardDisabled {
		t.Error("re-enabled: user still disabled or card enabled")
	}
	// A full sync that finds nobody disables nobody.
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.SetDirectorySync(e.src.ID, "", "", t0) })
	e.r.full = &directory.Snapshot{State: "s4"}
	_, err := e.dir.Sync(t.Context(), e.admin, e.src.ID, false)
	servicetest.WantErr(t, "empty full read", err, lanyard.EConflict, "returned no users")
	if e.user(t, "ada").Disabled {
		t.Error("an empty read disabled ada")
	}
}

// testAdminDisable: staff disable a directory user in Lanyard (a
// compromised account): a sync that says "enabled" leaves the account
// disabled and its card alone, and staff cannot enable an account its
// directory disabled; when the directory disables it too, the directory
// takes it over and its leaver handling disables the card then.
func testAdminDisable(t *testing.T, e *env) {
	card, _ := leaverEnv(t, e)
	yes, no := true, false
	u, err := e.stack.Service.Identity.UpdateUser(t.Context(), e.admin, "ada", identity.UserInput{Disabled: &yes})
	if err != nil || u.DisabledBy != lanyard.DisabledByAdmin {
		t.Fatalf("administrative disable: %+v, %v", u, err)
	}
	changed := entry("ada", "g-ada")
	changed.DisplayName = "Ada Renamed"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{changed}, State: "s2"}
	rep := e.sync(t, false)
	if got := e.user(t, "ada"); !got.Disabled || got.DisabledBy != lanyard.DisabledByAdmin || got.DisplayName != "Ada Renamed" || rep.Enabled != 0 {
		t.Errorf("after a sync saying enabled: %+v, report %+v", got, rep)
	}
	if c := e.card(t, card.ID); c.State != lanyard.CardIssued {
		t.Errorf("the administrative disable changed the card: %s", c.State)
	}
	gone := entry("ada", "g-ada")
	gone.DisplayName, gone.Disabled = "Ada Renamed", true
	e.r.delta = &directory.Delta{Changed: []directory.Entry{gone}, State: "s3"}
	if rep = e.sync(t, false); rep.Disabled != 1 || rep.CardsChanged != 1 {
		t.Errorf("the directory's disable after staff's: %+v", rep)
	}
	if got := e.user(t, "ada"); !got.Disabled || got.DisabledBy != lanyard.DisabledBySource || e.card(t, card.ID).State != lanyard.CardDisabled {
		t.Errorf("after the directory's disable: %+v, card %s", got, e.card(t, card.ID).State)
	}
	_, err = e.stack.Service.Identity.UpdateUser(t.Context(), e.admin, "ada", identity.UserInput{Disabled: &no})
	servicetest.WantErr(t, "staff enabling what the directory disabled", err, lanyard.EInvalid, "enable it there")
}

// testBadMailAppliesRest: an invalid e-mail address does not freeze the
// entry: ada, taken out of the staff group while her mail attribute
// holds garbage (something people may write themselves), loses the group
// at once; her last good address is kept and the report says so; the
// next sync is incremental (nothing to retry).
func testBadMailAppliesRest(t *testing.T, e *env) {
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada", staffDN)}, State: "s1"}
	e.sync(t, false)
	bad := entry("ada", "g-ada")
	bad.Email, bad.ManagerEmail = "not an address", "neither <this"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{bad}, State: "s2"}
	rep := e.sync(t, false)
	ada := e.user(t, "ada")
	if len(ada.Groups) != 0 || ada.Email != "ada@example.test" || ada.ManagerEmail != "boss@example.test" {
		t.Errorf("after an entry with bad addresses: %+v", ada)
	}
	if len(rep.Errors) != 2 || rep.Updated != 1 {
		t.Errorf("report %+v", rep)
	}
	e.r.delta = &directory.Delta{State: "s3"}
	if rep = e.sync(t, false); rep.Full {
		t.Errorf("a bad address made the next sync a full read: %+v", rep)
	}
}

func testLeaverRevoke(t *testing.T, e *env) {
	card, cert := leaverEnv(t, e)
	pol := storetest.NewPolicy("everyone", 50)
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignEveryone}}
	pol.Settings.Workflow.LeaverAction = lanyard.LeaverRevoke
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreatePolicy(pol) })
	e.r.delta = &directory.Delta{Deleted: []string{"g-ada"}, State: "s2"}
	rep := e.sync(t, false)
	if rep.Disabled != 1 || len(rep.Changes) != 1 || !slices.Equal(rep.Changes[0].Cards, []string{"5001"}) {
		t.Errorf("report %+v", rep)
	}
	c := e.card(t, card.ID)
	if c.State != lanyard.CardRevoked || c.RevocationReason != lanyard.CardWithdrawn {
		t.Errorf("card %s (%s)", c.State, c.RevocationReason)
	}
	if got := e.cert(t, cert.ID); got.Status != lanyard.CertRevoked || got.Reason != lanyard.ReasonAffiliationChanged {
		t.Errorf("certificate %s (%v)", got.Status, got.Reason)
	}
	// Again (a redone batch): nothing more happens.
	e.r.delta = &directory.Delta{Deleted: []string{"g-ada"}, State: "s3"}
	if rep = e.sync(t, false); rep.Disabled != 0 || rep.CardsChanged != 0 {
		t.Errorf("second run %+v", rep)
	}
}

// testLeaverRefused: a leaver whose entry has another error (an invalid
// manager address; a login another entry of the read has) is disabled
// and handled as a leaver all the same, the errors are reported, and the
// incremental state is not stored: the next sync reads everything again.
func testLeaverRefused(t *testing.T, e *env) {
	card, _ := leaverEnv(t, e)
	ada, bob, cat := entry("ada", "g-ada"), entry("bob", "g-bob"), entry("cat", "g-cat")
	ada.Disabled, ada.ManagerEmail = true, "not an address"
	bob.Disabled, bob.Login = true, "cat"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{ada, bob, cat}, State: "s2"}
	rep := e.sync(t, false)
	if rep.Disabled != 2 || len(rep.Errors) != 3 || rep.CardsChanged != 1 {
		t.Errorf("report %+v", rep)
	}
	for i, want := range []string{`"not an address" is not valid`, `the login "cat" appears on more than one entry`, `the login "cat" appears`} {
		if i < len(rep.Errors) && !strings.Contains(rep.Errors[i].Message, want) {
			t.Errorf("error %d = %q, want %q", i, rep.Errors[i].Message, want)
		}
	}
	if u := e.user(t, "ada"); !u.Disabled || u.ManagerEmail != "boss@example.test" {
		t.Errorf("ada = %+v (want disabled, nothing else changed)", u)
	}
	if !e.user(t, "bob").Disabled {
		t.Error("bob, a leaver with a duplicate login, is still enabled")
	}
	if c := e.card(t, card.ID); c.State != lanyard.CardDisabled {
		t.Errorf("ada's card is %s", c.State)
	}
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		if _, err := tx.UserByLogin("cat"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("cat was created: %v", err)
		}
		return nil
	})
	src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID)
	if src.SyncState != "" {
		t.Errorf("state %q stored after failed entries (they would never be retried)", src.SyncState)
	}
	// The next sync reads everything: the entries fixed are applied.
	fulls := e.r.fulls
	ada.ManagerEmail, bob.Login = "boss@example.test", "bob"
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{ada, bob, cat}, State: "s3"}
	rep = e.sync(t, false)
	if !rep.Full || e.r.fulls != fulls+1 || rep.Created != 1 || len(rep.Errors) != 0 {
		t.Errorf("the retry %+v", rep)
	}
	if src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID); src.SyncState != "s3" {
		t.Errorf("state after a clean sync %q", src.SyncState)
	}
	// A UPN another account held once, refused only when the user is
	// written: the leaver is disabled all the same.
	local := storetest.NewUser("lou")
	local.UPN = "lou.old@example.test"
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreateUser(local) })
	local.UPN = "lou.local@example.test"
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.UpdateUser(local) })
	cat.Disabled, cat.UPN = true, "lou.old@example.test"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{cat}, State: "s4"}
	rep = e.sync(t, false)
	if rep.Disabled != 1 || len(rep.Errors) != 1 {
		t.Errorf("leaver with a UPN of the history: %+v", rep)
	}
	if u := e.user(t, "cat"); !u.Disabled || u.UPN != "cat@example.test" {
		t.Errorf("cat = %+v (want disabled, UPN kept)", u)
	}
	if src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID); src.SyncState != "" {
		t.Errorf("state %q stored after a failed entry", src.SyncState)
	}
}

// testLeaverMovedOut: a leaver disabled, taken out of the group their
// policy is linked to and moved to a leavers' OU in one change gets the
// leaver action of the policy they had (revoke), not the source's.
func testLeaverMovedOut(t *testing.T, e *env) {
	pol := storetest.NewPolicy("finance", 10)
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: financeDN}}
	pol.Settings.Workflow.LeaverAction = lanyard.LeaverRevoke
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreatePolicy(pol) })
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada", financeDN)}, State: "s1"}
	e.sync(t, false)
	card, cert := e.issued(t, e.user(t, "ada"), "5003")
	gone := entry("ada", "g-ada")
	gone.Disabled, gone.DN = true, "CN=ada,OU=Leavers,DC=example,DC=test"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{gone}, State: "s2"}
	if rep := e.sync(t, false); rep.Disabled != 1 {
		t.Errorf("report %+v", rep)
	}
	if c := e.card(t, card.ID); c.State != lanyard.CardRevoked {
		t.Errorf("card %s, want revoked (the policy's leaver action)", c.State)
	}
	if got := e.cert(t, cert.ID); got.Status != lanyard.CertRevoked {
		t.Errorf("certificate %s", got.Status)
	}
}

// testContainerPolicy: a policy linked to an OU (in the directory's own
// spelling, normalized as the catalog stores it) decides the effective
// policy of the users the sync puts under it: the user's DN is stored
// normalized too.
func testContainerPolicy(t *testing.T, e *env) {
	pol := storetest.NewPolicy("staff", 10)
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignContainer, Name: directory.NormalizeDN("OU=Staff, DC=example,DC=test")}}
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreatePolicy(pol) })
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada")}, State: "s1"}
	e.sync(t, false)
	u := e.user(t, "ada")
	if u.DN != "cn=ada,ou=staff,dc=example,dc=test" {
		t.Errorf("stored DN %q", u.DN)
	}
	if p, ok := policy.Effective(u, []*lanyard.Policy{pol}); !ok || p.Name != "staff" {
		t.Errorf("ada's effective policy %v %v, want staff", p, ok)
	}
}

// testUPNChange: a UPN changed in the directory while a live certificate
// names the old one is applied, with a warning on the change, and the
// user's cards are marked for a check (as a mover's).
func testUPNChange(t *testing.T, e *env) {
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada"), entry("bob", "g-bob")}, State: "s1"}
	e.sync(t, false)
	card, _ := e.issued(t, e.user(t, "ada"), "5004")
	e.clock.Add(3600e9)
	ada, bob := entry("ada", "g-ada"), entry("bob", "g-bob")
	ada.UPN, bob.UPN = "ada.new@example.test", "bob.new@example.test"
	e.r.delta = &directory.Delta{Changed: []directory.Entry{ada, bob}, State: "s2"}
	rep := e.sync(t, false)
	if rep.Updated != 2 || rep.CardsDue != 1 || len(rep.Changes) != 2 {
		t.Fatalf("report %+v", rep)
	}
	if w := rep.Changes[0].Warning; !strings.Contains(w, "1 live certificates issued by Lanyard still name ada@example.test") {
		t.Errorf("ada's change warns %q", w)
	}
	if w := rep.Changes[1].Warning; w != "" {
		t.Errorf("bob (no certificate) is warned: %q", w)
	}
	if u := e.user(t, "ada"); u.UPN != "ada.new@example.test" {
		t.Errorf("ada's UPN %q", u.UPN)
	}
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		due, err := tx.DueCardContents(e.clock.Now(), 10)
		if !slices.Equal(due, []int64{card.ID}) {
			t.Errorf("due cards %v, want [%d]", due, card.ID)
		}
		return err
	})
}

// testSourceDeleted: a source added after another was deleted never takes
// over the deleted source's users (not by its id either): its first
// full sync leaves them alone.
func testSourceDeleted(t *testing.T, e *env) {
	ctx := t.Context()
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada")}, State: "s1"}
	e.sync(t, false)
	before := e.user(t, "ada")
	if err := e.dir.DeleteSource(ctx, e.admin, e.src.ID); err != nil {
		t.Fatal(err)
	}
	pw := "pw"
	src, err := e.dir.CreateSource(ctx, e.admin, directory.SourceInput{Name: "corp2", Kind: "ad", URL: "ldaps://dc.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BindPassword: &pw, BaseDN: "DC=example,DC=test", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if src.ID == e.src.ID {
		t.Errorf("the new source got the deleted source's id %d", src.ID)
	}
	e.src = src
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("bob", "g-bob")}, State: "s1"}
	rep := e.sync(t, false)
	if rep.Created != 1 || rep.Disabled != 0 {
		t.Errorf("the new source's first sync %+v", rep)
	}
	ada := e.user(t, "ada")
	if ada.Disabled || ada.Source != lanyard.SourceLDAP || ada.SourceID != -before.SourceID || !ada.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the deleted source's user %+v", ada)
	}
	// The same person in the new source is an error line, not a merge.
	e.r.delta = &directory.Delta{Changed: []directory.Entry{entry("ada", "g-ada")}, State: "s2"}
	rep = e.sync(t, false)
	if len(rep.Errors) != 2 || !strings.Contains(rep.Errors[0].Message, "belongs to ada of a deleted directory source (1)") {
		t.Errorf("ada in the new source: %+v", rep)
	}
}

func testMover(t *testing.T, e *env) {
	pol := storetest.NewPolicy("finance", 10)
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: financeDN}}
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreatePolicy(pol) })
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada", staffDN)}, State: "s1"}
	e.sync(t, false)
	card, _ := e.issued(t, e.user(t, "ada"), "5002")
	e.clock.Add(3600e9)
	e.r.delta = &directory.Delta{Changed: []directory.Entry{entry("ada", "g-ada", staffDN, financeDN)}, State: "s2"}
	rep := e.sync(t, false)
	if rep.Moved != 1 || rep.CardsDue != 1 || !rep.Changes[0].Moved {
		t.Errorf("report %+v", rep)
	}
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		due, err := tx.DueCardContents(e.clock.Now(), 10)
		if !slices.Equal(due, []int64{card.ID}) {
			t.Errorf("due cards %v, want [%d]", due, card.ID)
		}
		return err
	})
	// A group change that keeps the policy marks nothing.
	e.r.delta = &directory.Delta{Changed: []directory.Entry{entry("ada", "g-ada", financeDN)}, State: "s3"}
	if rep = e.sync(t, false); rep.Moved != 0 || rep.Updated != 1 {
		t.Errorf("same policy: %+v", rep)
	}
}

func testCollisions(t *testing.T, e *env) {
	local := storetest.NewUser("lou")
	local.UPN = "lou.old@example.test"
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.CreateUser(local) })
	local.UPN = "lou.local@example.test" // lou.old stays lou's for good (upn_history)
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.UpdateUser(local) })
	lou, upn := entry("lou", "g-lou"), entry("ann", "g-ann")
	upn.UPN = "LOU.local@example.test"
	d1, d2 := entry("dup1", "g-d1"), entry("dup2", "g-d2")
	d2.UPN = d1.UPN
	old := entry("oldupn", "g-old")
	old.UPN = "lou.old@example.test"
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{lou, upn, d1, d2, entry("ok", "g-ok"), old}, State: "s1"}
	rep := e.sync(t, false)
	if rep.Created != 1 || len(rep.Errors) != 5 || !strings.Contains(rep.Errors[4].Message, "belonged to another user") {
		t.Fatalf("report %+v", rep)
	}
	for i, want := range []string{`the login "lou" belongs to the local user lou`, `the UPN "LOU.local@example.test" belongs to the local user lou`,
		`the UPN "dup1@example.test" appears on more than one entry`, `the UPN "dup1@example.test" appears`} {
		if !bytes.Contains([]byte(rep.Errors[i].Message), []byte(want)) {
			t.Errorf("error %d = %q, want %q", i, rep.Errors[i].Message, want)
		}
	}
	u := e.user(t, "lou")
	if u.Source != lanyard.SourceLocal || u.ExternalID != "" || u.ID != local.ID {
		t.Errorf("local lou was merged: %+v", u)
	}
	for _, login := range []string{"ann", "dup1", "dup2", "oldupn"} {
		storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
			if _, err := tx.UserByLogin(login); !lanyard.IsCode(err, lanyard.ENotFound) {
				t.Errorf("%s was created: %v", login, err)
			}
			return nil
		})
	}
}

func testInterrupted(t *testing.T, e *env) {
	// The reader fails: nothing is applied, the state stays.
	e.r.err = lanyard.Errorf(lanyard.EUnavailable, "the directory is unreachable")
	_, err := e.dir.Sync(t.Context(), e.admin, e.src.ID, false)
	servicetest.WantErr(t, "reader error", err, lanyard.EUnavailable, "unreachable")
	e.r.err = nil
	if src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID); src.LastError != "the directory is unreachable" || !src.LastErrorAt.Equal(t0) || src.SyncState != "" {
		t.Errorf("after a failed sync: %q at %v, state %q", src.LastError, src.LastErrorAt, src.SyncState)
	}
	if evs := e.events(t, "directory.sync.failed"); len(evs) != 1 {
		t.Errorf("%d directory.sync.failed events", len(evs))
	}

	// Cancelled after the first of three batches: that batch stays, the
	// state does not advance, the next sync (full again) does the rest.
	directory.SetBatch(e.dir, 1)
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("a1", "g1"), entry("a2", "g2"), entry("a3", "g3")}, State: "s1"}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	directory.SetBatchDone(e.dir, func(n int) {
		if n == 1 {
			cancel()
		}
	})
	_, err = e.dir.Sync(ctx, e.admin, e.src.ID, false)
	servicetest.WantErr(t, "cancelled", err, lanyard.EUnavailable, "interrupted")
	directory.SetBatchDone(e.dir, nil)
	src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID)
	if src.SyncState != "" || src.LastReport != nil {
		t.Errorf("state advanced: %q", src.SyncState)
	}
	var n int
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		m, err := tx.DirectoryUsers(e.src.ID)
		n = len(m)
		return err
	})
	if n != 1 {
		t.Errorf("%d users after the interrupted sync, want 1", n)
	}
	if src.LastError == "" {
		t.Error("the interrupted sync left no error")
	}
	rep := e.sync(t, false) // the lease was released: no wait
	if !rep.Full || rep.Created != 2 || rep.Unchanged != 1 {
		t.Errorf("the redo %+v", rep)
	}
	if src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID); src.LastError != "" || src.SyncState != "s1" {
		t.Errorf("after the redo: error %q, state %q", src.LastError, src.SyncState)
	}
}

func testDryRun(t *testing.T, e *env) {
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada")}, State: "s1"}
	rep := e.sync(t, true)
	if !rep.DryRun || rep.Created != 1 || len(rep.Changes) != 1 || rep.Changes[0].Action != "create" || rep.Changes[0].Login != "ada" {
		t.Errorf("dry run %+v", rep)
	}
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		if _, err := tx.UserByLogin("ada"); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("a dry run created ada: %v", err)
		}
		return nil
	})
	src, _ := e.dir.GetSource(t.Context(), e.admin, e.src.ID)
	if src.SyncState != "" || src.LastReport != nil || len(e.events(t, "directory.sync")) != 0 {
		t.Error("a dry run wrote the state, the report or an event")
	}
	e.sync(t, false)
	gone := entry("ada", "g-ada")
	gone.Disabled = true
	e.r.delta = &directory.Delta{Changed: []directory.Entry{gone}, State: "s2"}
	if rep = e.sync(t, true); rep.Disabled != 1 || e.user(t, "ada").Disabled {
		t.Errorf("dry run of a leaver: %+v, disabled %v", rep, e.user(t, "ada").Disabled)
	}
}

func testSignIn(t *testing.T, e *env) {
	ctx := t.Context()
	ada := entry("ada", "g-ada")
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{ada}, State: "s1"}
	e.sync(t, false)
	e.r.binds["ada"], e.r.entries["ada"] = "right horse", &ada
	if _, err := e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.1"); err != nil {
		t.Fatalf("directory sign-in: %v", err)
	}
	_, err := e.stack.Service.Identity.Login(ctx, "ada", "wrong", "192.0.2.1")
	servicetest.WantErr(t, "wrong password", err, lanyard.EUnauthenticated, "")
	e.r.err = lanyard.Errorf(lanyard.EUnavailable, "dial tcp: connection refused")
	_, err = e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.1")
	servicetest.WantErr(t, "unreachable", err, lanyard.EUnavailable, "the directory is unreachable")
	e.r.err = nil
	// Another person's entry under the login, and a disabled entry.
	other := ada
	other.ExternalID = "g-someone-else"
	e.r.entries["ada"] = &other
	_, err = e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.1")
	servicetest.WantErr(t, "other entry", err, lanyard.EUnauthenticated, "")
	off := ada
	off.Disabled = true
	e.r.entries["ada"] = &off
	_, err = e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.1")
	servicetest.WantErr(t, "disabled in the directory", err, lanyard.EForbidden, "disabled in the directory")

	// The login throttle counts wrong directory passwords as it counts
	// local ones (5 in a row lock the login), and an unreachable
	// directory not at all.
	e.r.entries["ada"] = &ada
	e.r.err = lanyard.Errorf(lanyard.EUnavailable, "dial tcp: connection refused")
	for range 6 {
		_, err = e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.2")
		servicetest.WantErr(t, "unreachable again", err, lanyard.EUnavailable, "unreachable")
	}
	e.r.err = nil
	for i := range 3 { // with the wrong password and the other entry above: 5
		_, err = e.stack.Service.Identity.Login(ctx, "ada", "wrong", "192.0.2.3")
		servicetest.WantErr(t, fmt.Sprint("wrong password ", i), err, lanyard.EUnauthenticated, "")
	}
	_, err = e.stack.Service.Identity.Login(ctx, "ada", "right horse", "192.0.2.4")
	servicetest.WantErr(t, "throttled", err, lanyard.ERateLimited, "")
}

// testRunDue: the periodic sync runs a source when its interval (its own,
// else the server's) has passed since its last sync, and never a
// disabled source.
func testRunDue(t *testing.T, e *env) {
	e.r.full = &directory.Snapshot{Entries: []directory.Entry{entry("ada", "g-ada")}, State: "s1"}
	e.r.delta = &directory.Delta{State: "s2"}
	run := func(want int) {
		t.Helper()
		reps, err := e.dir.RunDue(t.Context())
		if err != nil || len(reps) != want {
			t.Fatalf("RunDue: %v, %d reports, want %d", err, len(reps), want)
		}
	}
	run(1)
	run(0)
	e.clock.Add(directory.DefaultInterval - time.Minute)
	run(0)
	e.clock.Add(time.Minute)
	run(1)
	pw := "pw"
	if _, err := e.dir.UpdateSource(t.Context(), e.admin, e.src.ID, directory.SourceInput{Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BindPassword: &pw, BaseDN: "DC=example,DC=test", SyncInterval: time.Hour, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(30 * time.Minute)
	run(0) // its own interval: an hour
	e.clock.Add(30 * time.Minute)
	run(1)
	if _, err := e.dir.UpdateSource(t.Context(), e.admin, e.src.ID, directory.SourceInput{Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test",
		BindDN: "CN=svc,DC=example,DC=test", BaseDN: "DC=example,DC=test"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * time.Hour)
	run(0) // disabled
	_, err := e.dir.Sync(t.Context(), e.admin, e.src.ID, false)
	servicetest.WantErr(t, "Sync now of a disabled source", err, lanyard.EConflict, "turned off")
	if rep := e.sync(t, true); !rep.DryRun || rep.Full {
		t.Errorf("dry run of a disabled source: %+v", rep)
	}
}

// caPEM is a self-signed CA certificate in PEM (a CA bundle to set).
func caPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"}, NotBefore: t0, NotAfter: t0.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
