//go:build integration

package directory_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestSyncFromOpenLDAP: the capability with its real reader against the
// OpenLDAP of scripts/slapd-test.sh (LANYARD_TEST_SLAPD; make test sets
// it), in a subtree of this test's own: a full sync creates the users
// with their nested groups and manager; a directory user signs in with
// their directory password; a user locked in the directory
// (pwdAccountLockedTime) and one deleted from it are disabled by the next,
// incremental sync.
func TestSyncFromOpenLDAP(t *testing.T) {
	srv := openDirectory(t, "LANYARD_TEST_SLAPD", "slapd-test.sh")
	spec, ca, tag := srv.spec, srv.ca, srv.tag
	ou := srv.add("ou=dirsync"+tag+","+spec["base"], map[string][]string{"objectClass": {"organizationalUnit"}})
	person := func(uid, pw string, extra map[string][]string) string {
		a := map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid + tag}, "cn": {uid + " Test"}, "sn": {"Test"},
			"mail": {uid + tag + "@lanyard.test"}, "userPassword": {pw}}
		for k, v := range extra {
			a[k] = v
		}
		return srv.add("uid="+uid+tag+","+ou, a)
	}
	annDN := person("ann", "Ann-pass-1", nil)
	benDN := person("ben", "Ben-pass-1", map[string][]string{"manager": {annDN}})
	inner := srv.add("cn=inner"+tag+","+ou, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"inner" + tag}, "member": {annDN}})
	outer := srv.add("cn=outer"+tag+","+ou, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"outer" + tag}, "member": {inner, benDN}})

	stack := servicetest.New(t, servicetest.Options{})
	dir := stack.Service.Directory
	pw := spec["password"]
	src, err := dir.CreateSource(t.Context(), stack.Admin, directory.SourceInput{Name: "slapd", Kind: "openldap", URL: spec["url"], CAPEM: string(ca),
		BindDN: spec["bind"], BindPassword: &pw, BaseDN: ou, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	// The faults the source's settings can hold: a CA that did not sign
	// the server's certificate, a wrong bind password. Clear errors, and
	// nothing synced.
	wrong := "not the password"
	for name, in := range map[string]directory.SourceInput{
		"tls": {Name: "wrongca", Kind: "openldap", URL: spec["url"], CAPEM: otherCA(t), BindDN: spec["bind"], BindPassword: &pw, BaseDN: ou, Enabled: true},
		"bind": {Name: "wrongpw", Kind: "openldap", URL: spec["url"], CAPEM: string(ca), BindDN: spec["bind"], BindPassword: &wrong, BaseDN: ou,
			Enabled: true},
	} {
		bad, err := dir.CreateSource(t.Context(), stack.Admin, in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = dir.Sync(t.Context(), stack.Admin, bad.ID, false)
		want := map[string]string{"tls": "TLS certificate was not accepted", "bind": "refused the service account's bind"}[name]
		servicetest.WantErr(t, name, err, lanyard.EUnavailable, want)
		if err := dir.DeleteSource(t.Context(), stack.Admin, bad.ID); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := dir.Sync(t.Context(), stack.Admin, src.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Full || rep.Created != 2 || len(rep.Errors) != 0 {
		t.Fatalf("full sync: %+v", rep)
	}
	user := func(login string) *lanyard.User {
		var u *lanyard.User
		storetest.MustView(t, stack.Store, func(tx lanyard.Tx) (err error) { u, err = tx.UserByLogin(login + tag); return })
		return u
	}
	ann, ben := user("ann"), user("ben")
	if !slices.Contains(ann.Groups, directory.NormalizeDN(outer)) || !slices.Contains(ann.Groups, directory.NormalizeDN(inner)) {
		t.Errorf("ann's groups %v, want the nested %s too", ann.Groups, outer)
	}
	if ben.ManagerEmail != ann.Email || ann.Source != lanyard.SourceLDAP || ann.ExternalID == "" || ann.PasswordHash != "" {
		t.Errorf("ben %+v, ann %+v", ben, ann)
	}

	// Sign-in by a bind as the user.
	if _, err := stack.Service.Identity.Login(t.Context(), "ann"+tag, "Ann-pass-1", "192.0.2.7"); err != nil {
		t.Fatalf("ann's directory sign-in: %v", err)
	}
	_, err = stack.Service.Identity.Login(t.Context(), "ann"+tag, "wrong", "192.0.2.7")
	servicetest.WantErr(t, "wrong directory password", err, lanyard.EUnauthenticated, "")

	// ben is locked, ann deleted: the next sync (incremental) disables both.
	time.Sleep(1100 * time.Millisecond) // modifyTimestamp has whole seconds
	srv.replace(benDN, "pwdAccountLockedTime", "000001010000Z")
	srv.del(annDN)
	rep, err = dir.Sync(t.Context(), stack.Admin, src.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Full || rep.Disabled != 2 {
		t.Errorf("incremental sync: %+v", rep)
	}
	if !user("ann").Disabled || !user("ben").Disabled {
		t.Error("the leavers are not disabled")
	}
}

// TestContainerPolicyOpenLDAP: a policy linked to an OU, given in the
// directory's own spelling (upper-case attribute types, a space after a
// comma, the OU's mixed case), decides the effective policy of the
// users the sync finds under it: users' DNs are stored normalized, as
// policies' containers are; a user elsewhere keeps the default.
func TestContainerPolicyOpenLDAP(t *testing.T) {
	srv := openDirectory(t, "LANYARD_TEST_SLAPD", "slapd-test.sh")
	spec, ca, tag := srv.spec, srv.ca, srv.tag
	root := srv.add("ou=dirpol"+tag+","+spec["base"], map[string][]string{"objectClass": {"organizationalUnit"}})
	staff := srv.add("ou=Staff"+tag+","+root, map[string][]string{"objectClass": {"organizationalUnit"}})
	person := func(uid, parent string) {
		srv.add("uid="+uid+tag+","+parent, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid + tag}, "cn": {uid + " Test"},
			"sn": {"Test"}, "mail": {uid + tag + "@lanyard.test"}})
	}
	person("cara", staff)
	person("dora", root)

	stack := servicetest.New(t, servicetest.Options{})
	svc := stack.Service
	pw := spec["password"]
	src, err := svc.Directory.CreateSource(t.Context(), stack.Admin, directory.SourceInput{Name: "slapd", Kind: "openldap", URL: spec["url"],
		CAPEM: string(ca), BindDN: spec["bind"], BindPassword: &pw, BaseDN: root, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	def, err := svc.Catalog.GetPolicy(t.Context(), "default")
	if err != nil {
		t.Fatal(err)
	}
	pol := catalog.NewPolicyInput()
	pol.Name, pol.Priority, pol.Settings = "staff", 10, def.Settings
	spelled := "OU=Staff" + tag + ", " + strings.ToUpper(root[:3]) + root[3:] // as an administrator copies it from the directory
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignContainer, Name: spelled}}
	if _, err := svc.Catalog.CreatePolicy(t.Context(), stack.Admin, pol); err != nil {
		t.Fatal(err)
	}
	if rep, err := svc.Directory.Sync(t.Context(), stack.Admin, src.ID, false); err != nil || rep.Created != 2 || len(rep.Errors) != 0 {
		t.Fatalf("full sync: %+v, %v", rep, err)
	}
	for login, want := range map[string]string{"cara": "staff", "dora": "default"} {
		p, err := svc.Catalog.EffectivePolicy(t.Context(), stack.Admin, login+tag)
		if err != nil || p.Name != want {
			t.Errorf("%s's effective policy: %v, %v; want %s", login, p, err, want)
		}
	}
}
