//go:build integration

package directory_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/lanyard-cms/lanyard/internal/directory"
)

// TestADGroupScopedFilterAndServer, on the Samba AD DC: with a user
// filter scoped to a group's (nested) members, a user taken out of the
// group leaves the scope though their own change number did not move
// (memberOf is a backlink): the next Incremental lists them as removed.
// And a State counted by one domain controller is refused when another
// (or a restored one, a new invocationId) answers: a full read follows.
func TestADGroupScopedFilterAndServer(t *testing.T) {
	s := openServer(t, "LANYARD_TEST_SAMBA", directory.KindAD)
	f := s.fixture(t)
	ann, ben := f.user("ann", "", false), f.user("ben", "", false)
	cards := f.group("cards", ann, ben)
	f.cfg.UserFilter = "(&(objectCategory=person)(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:=" + ldap.EscapeFilter(cards) + "))"
	snap, err := directory.Full(ctxT(t), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := byLogin(snap.Entries)
	if len(ids) != 2 {
		t.Fatalf("full read in scope: %v", snap.Entries)
	}
	f.modify(cards, func(r *ldap.ModifyRequest) { r.Delete("member", []string{ben}) })
	d, st, err := directory.Incremental(ctxT(t), f.cfg, snap.State)
	if err != nil {
		t.Fatal(err)
	}
	if want := ids[f.login("ben")].ExternalID; !slices.Contains(d.Removed, want) {
		t.Errorf("ben left the group-scoped filter: removed %v, want %s among them (changed %v)", d.Removed, want, d.Changed)
	}
	if slices.Contains(d.Removed, ids[f.login("ann")].ExternalID) {
		t.Errorf("ann is still in scope but listed as removed: %v", d.Removed)
	}

	// The same State as if another domain controller had counted it.
	raw, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["server"] == nil || m["server"] == "" {
		t.Fatalf("the AD state names no domain controller: %s", raw)
	}
	m["server"] = "cn=ntds settings,cn=dc2,cn=servers,cn=default-first-site-name,cn=sites,cn=configuration,dc=lanyard,dc=test#00"
	raw, _ = json.Marshal(m)
	var other directory.State
	if err := json.Unmarshal(raw, &other); err != nil {
		t.Fatal(err)
	}
	if _, _, err := directory.Incremental(ctxT(t), f.cfg, other); !errors.Is(err, directory.ErrStateKind) {
		t.Errorf("a state of another domain controller: %v, want ErrStateKind", err)
	}
}
