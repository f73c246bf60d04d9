//go:build integration

package directory_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
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
	spec := map[string]string{}
	env := os.Getenv("LANYARD_TEST_SLAPD")
	if env == "" {
		t.Fatal("LANYARD_TEST_SLAPD is not set: run scripts/slapd-test.sh (make test sets it)")
	}
	for _, f := range strings.Fields(env) {
		k, v, _ := strings.Cut(f, "=")
		spec[k] = v
	}
	ca, err := os.ReadFile(spec["ca"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	admin, err := ldap.DialURL(spec["url"], ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Bind(spec["bind"], spec["password"]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	tag := hex.EncodeToString(b)
	ou := "ou=dirsync" + tag + "," + spec["base"]
	var added []string
	add := func(dn string, attrs map[string][]string) {
		t.Helper()
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := admin.Add(req); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
		added = append(added, dn)
	}
	t.Cleanup(func() {
		for _, dn := range slices.Backward(added) {
			admin.Del(ldap.NewDelRequest(dn, nil))
		}
	})
	person := func(uid, pw string, extra map[string][]string) string {
		dn := "uid=" + uid + tag + "," + ou
		a := map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid + tag}, "cn": {uid + " Test"}, "sn": {"Test"},
			"mail": {uid + tag + "@lanyard.test"}, "userPassword": {pw}}
		for k, v := range extra {
			a[k] = v
		}
		add(dn, a)
		return dn
	}
	add(ou, map[string][]string{"objectClass": {"organizationalUnit"}})
	annDN := person("ann", "Ann-pass-1", nil)
	benDN := person("ben", "Ben-pass-1", map[string][]string{"manager": {annDN}})
	inner, outer := "cn=inner"+tag+","+ou, "cn=outer"+tag+","+ou
	add(inner, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"inner" + tag}, "member": {annDN}})
	add(outer, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"outer" + tag}, "member": {inner, benDN}})

	stack := servicetest.New(t, servicetest.Options{})
	dir := stack.Service.Directory
	pw := spec["password"]
	src, err := dir.CreateSource(t.Context(), stack.Admin, directory.SourceInput{Name: "slapd", Kind: "openldap", URL: spec["url"], CAPEM: string(ca),
		BindDN: spec["bind"], BindPassword: &pw, BaseDN: ou, Enabled: true})
	if err != nil {
		t.Fatal(err)
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
	lock := ldap.NewModifyRequest(benDN, nil)
	lock.Replace("pwdAccountLockedTime", []string{"000001010000Z"})
	if err := admin.Modify(lock); err != nil {
		t.Fatal(err)
	}
	if err := admin.Del(ldap.NewDelRequest(annDN, nil)); err != nil {
		t.Fatal(err)
	}
	added = slices.DeleteFunc(added, func(dn string) bool { return dn == annDN })
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
