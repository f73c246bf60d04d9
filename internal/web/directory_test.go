package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestDirectorySources: an administrator adds, reads, changes and deletes
// a directory source over the API; no answer carries the bind password;
// bad input is a problem and changes nothing; a sync against a directory
// that cannot be reached is 503 "the directory is unreachable"; an
// operator is refused.
func TestDirectorySources(t *testing.T) {
	e := mustEnv(t)
	body := `{"name":"corp","kind":"ad","url":"ldaps://dc.invalid:636","bind_dn":"CN=svc,DC=example,DC=test",
		"bind_password":"Tr0ub4dor&3","base_dn":"DC=example,DC=test","leaver_action":"revoke","sync_interval_minutes":30,"enabled":true}`
	var src apiv1.DirectorySource
	r := e.must(201, "POST", "/api/v1/directory-sources", e.admin, body)
	r.json(&src)
	if src.ID == 0 || !src.HasBindPassword || src.LeaverAction != "revoke" || src.SyncIntervalMinutes != 30 || !src.NextSyncFull {
		t.Errorf("created %+v", src)
	}
	if strings.Contains(string(r.body), "Tr0ub4dor") {
		t.Errorf("the answer carries the bind password: %s", r.body)
	}
	e.must(400, "POST", "/api/v1/directory-sources", e.admin, `{"name":"plain","kind":"ad","url":"ldap://dc.example.test","base_dn":"dc=x"}`)
	e.must(409, "POST", "/api/v1/directory-sources", e.admin, body)
	var list []apiv1.DirectorySource
	r = e.must(200, "GET", "/api/v1/directory-sources", e.admin, nil)
	r.json(&list)
	if len(list) != 1 || list[0].Name != "corp" || strings.Contains(string(r.body), "Tr0ub4dor") {
		t.Errorf("list %s", r.body)
	}
	id := "/api/v1/directory-sources/" + itoa(src.ID)
	// A new URL without the password: the password is asked again (it
	// would go to another server).
	r = e.must(400, "PUT", id, e.admin, `{"name":"corp","kind":"ad","url":"ldaps://dc2.invalid","bind_dn":"CN=svc,DC=example,DC=test","base_dn":"DC=example,DC=test","enabled":false}`)
	if !strings.Contains(string(r.body), "enter the bind password again") {
		t.Errorf("URL changed without the password: %s", r.body)
	}
	e.must(200, "PUT", id, e.admin, `{"name":"corp","kind":"ad","url":"ldaps://dc2.invalid","bind_dn":"CN=svc,DC=example,DC=test","bind_password":"Tr0ub4dor&3","base_dn":"DC=example,DC=test","enabled":false}`).json(&src)
	if !src.HasBindPassword || src.URL != "ldaps://dc2.invalid" || src.Enabled {
		t.Errorf("updated %+v", src)
	}
	r = e.must(503, "POST", id+"/sync", e.admin, `{"dry_run":true}`)
	if !strings.Contains(string(r.body), "unreachable") {
		t.Errorf("sync of an unreachable directory: %s", r.body)
	}
	op := e.mustUser("op", lanyard.RoleOperator)
	e.must(403, "GET", id, op, nil)
	e.must(403, "POST", id+"/sync", op, `{}`)
	e.must(204, "DELETE", id, e.admin, nil)
	e.must(404, "GET", id, e.admin, nil)
}

// TestDirectorySignInUnreachable: a directory user's sign-in while their
// directory cannot be reached is 503 "the directory is unreachable", not
// a wrong password (401), and no session is made.
func TestDirectorySignInUnreachable(t *testing.T) {
	e := mustEnv(t)
	var src apiv1.DirectorySource
	e.must(201, "POST", "/api/v1/directory-sources", e.admin, `{"name":"local","kind":"openldap","url":"ldap://127.0.0.1:1",
		"bind_dn":"cn=admin,dc=example,dc=test","bind_password":"x","base_dn":"dc=example,dc=test","enabled":true}`).json(&src)
	u := &lanyard.User{Login: "dora", DisplayName: "Dora", Roles: lanyard.Roles{lanyard.RoleUser}, Source: lanyard.SourceLDAP, SourceID: src.ID,
		ExternalID: "7d6f3a5e-0000-4000-8000-000000000001", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.store.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateUser(u) }); err != nil {
		t.Fatal(err)
	}
	r := e.must(503, "POST", "/api/v1/session", "", `{"login":"dora","password":"whatever it is"}`)
	if p := r.problem(); !strings.Contains(p.Detail, "the directory is unreachable") {
		t.Errorf("problem %+v", p)
	}
	if r.header.Get("Set-Cookie") != "" {
		t.Errorf("a session cookie for a refused sign-in: %s", r.header.Get("Set-Cookie"))
	}
}
