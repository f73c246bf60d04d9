//go:build integration

package directory_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/lanyard-cms/lanyard/internal/directory"
)

// seed makes the usual people: alice (manager of bob and dave), bob,
// carol (disabled), dave, eve; groups staff ∋ engineers ∋ admins, with
// alice ∈ admins, bob ∈ engineers, eve ∈ staff.
func (f *fixture) seed() {
	f.user("alice", "", false)
	f.user("bob", "alice", false)
	f.user("carol", "", true)
	f.user("dave", "alice", false)
	f.user("eve", "", false)
	admins := f.group("admins", f.userDN("alice"))
	engineers := f.group("engineers", admins, f.userDN("bob"))
	f.group("staff", engineers, f.userDN("eve"))
}

// apply is what a sync does with a Delta: replace the changed entries,
// drop the removed ones.
func apply(entries map[string]directory.Entry, d *directory.Delta) map[string]directory.Entry {
	out := map[string]directory.Entry{}
	for k, v := range entries {
		out[k] = v
	}
	for _, e := range d.Changed {
		out[e.ExternalID] = e
	}
	for _, id := range d.Removed {
		delete(out, id)
	}
	return out
}

// sameAsFull checks that the entries a sync holds after applying deltas
// equal a fresh Full read: the incremental read missed nothing.
func sameAsFull(t *testing.T, f *fixture, held map[string]directory.Entry) *directory.Snapshot {
	t.Helper()
	snap, err := directory.Full(ctxT(t), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	full := byID(snap.Entries)
	if len(full) != len(held) {
		t.Errorf("after the deltas %d entries, a full read has %d", len(held), len(full))
	}
	for id, e := range full {
		if h, ok := held[id]; !ok || !equalEntry(h, e) {
			t.Errorf("entry %s:\n after deltas %+v\n full read    %+v", id, h, e)
		}
	}
	return snap
}

func TestDirectoryFullAndIncremental(t *testing.T) {
	for _, s := range servers(t) {
		t.Run(s.kind, func(t *testing.T) {
			f := s.fixture(t)
			f.seed()
			f.user("gina", "", false) // leaves the base DN below
			ctx := ctxT(t)
			snap, err := directory.Full(ctx, f.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Problems) != 0 {
				t.Errorf("problems: %+v", snap.Problems)
			}
			users := byLogin(snap.Entries)
			if len(users) != 6 {
				t.Fatalf("read %d users, want 6: %+v", len(users), snap.Entries)
			}
			alice, bob, carol, dave, eve := users[f.login("alice")], users[f.login("bob")], users[f.login("carol")], users[f.login("dave")], users[f.login("eve")]
			groups := func(names ...string) []string {
				var dns []string
				for _, n := range names {
					dns = append(dns, f.groupDN(n))
				}
				return norm(t, dns...)
			}
			for _, tc := range []struct {
				e      directory.Entry
				name   string
				groups []string
			}{
				{alice, "alice", groups("admins", "engineers", "staff")},
				{bob, "bob", groups("engineers", "staff")},
				{carol, "carol", []string{}},
				{dave, "dave", []string{}},
				{eve, "eve", groups("staff")},
			} {
				if len(tc.e.ExternalID) != 36 || strings.Count(tc.e.ExternalID, "-") != 4 {
					t.Errorf("%s: ExternalID %q is not a UUID", tc.name, tc.e.ExternalID)
				}
				if tc.e.Email != f.mail(tc.name) {
					t.Errorf("%s: mail %q", tc.name, tc.e.Email)
				}
				if !slices.Equal(tc.e.Groups, tc.groups) {
					t.Errorf("%s: groups %v, want %v", tc.name, tc.e.Groups, tc.groups)
				}
				if tc.e.DisplayName == "" || !strings.EqualFold(tc.e.DN, f.userDN(tc.name)) {
					t.Errorf("%s: display name %q, DN %q", tc.name, tc.e.DisplayName, tc.e.DN)
				}
				wantUPN := ""
				if s.kind == directory.KindAD {
					wantUPN = f.login(tc.name) + "@lanyard.test"
				}
				if tc.e.UPN != wantUPN {
					t.Errorf("%s: UPN %q, want %q", tc.name, tc.e.UPN, wantUPN)
				}
				if tc.e.Disabled != (tc.name == "carol") {
					t.Errorf("%s: disabled %v", tc.name, tc.e.Disabled)
				}
			}
			if bob.ManagerEmail != f.mail("alice") || dave.ManagerEmail != f.mail("alice") || alice.ManagerEmail != "" {
				t.Errorf("manager mails: bob %q dave %q alice %q", bob.ManagerEmail, dave.ManagerEmail, alice.ManagerEmail)
			}
			if s.kind == directory.KindAD {
				checkInChain(t, f, snap.Entries)
			}
			held := byID(snap.Entries)
			st := snap.State

			// Changes: dave moves (a new DN) into admins; eve leaves
			// staff; alice's mail changes (bob's and dave's
			// ManagerEmail follow); carol is deleted; frank is new.
			time.Sleep(1100 * time.Millisecond) // OpenLDAP stamps have whole seconds
			newDave := "CN=dave,OU=Moved," + f.ou
			if s.kind == directory.KindOpenLDAP {
				newDave = "uid=" + f.login("dave") + ",OU=Moved," + f.ou
			}
			rdn, _, _ := strings.Cut(newDave, ",")
			if err := s.admin.ModifyDN(ldap.NewModifyDNRequest(f.userDN("dave"), rdn, true, "OU=Moved,"+f.ou)); err != nil {
				t.Fatal(err)
			}
			f.modify(f.groupDN("admins"), func(r *ldap.ModifyRequest) { r.Add("member", []string{newDave}) })
			f.modify(f.groupDN("staff"), func(r *ldap.ModifyRequest) { r.Delete("member", []string{f.userDN("eve")}) })
			f.modify(f.userDN("alice"), func(r *ldap.ModifyRequest) { r.Replace("mail", []string{"new." + f.mail("alice")}) })
			if err := s.admin.Del(ldap.NewDelRequest(f.userDN("carol"), nil)); err != nil {
				t.Fatal(err)
			}
			f.user("frank", "", false)
			gina := users[f.login("gina")]
			outside := "OU=People,OU=Lanyard," + s.spec["base"]
			if s.kind == directory.KindOpenLDAP {
				outside = "ou=People," + s.spec["base"]
			}
			ginaRDN, _, _ := strings.Cut(f.userDN("gina"), ",")
			if s.kind == directory.KindAD {
				ginaRDN = "CN=gina-" + f.tag // CNs are unique per container
			}
			if err := s.admin.ModifyDN(ldap.NewModifyDNRequest(f.userDN("gina"), ginaRDN, true, outside)); err != nil {
				t.Fatal(err)
			}

			delta, st2, err := directory.Incremental(ctx, f.cfg, st)
			if err != nil {
				t.Fatal(err)
			}
			changed := byLogin(delta.Changed)
			for _, n := range []string{"alice", "bob", "dave", "eve", "frank"} {
				if _, ok := changed[f.login(n)]; !ok {
					t.Errorf("%s not in the delta's changed entries (%d)", n, len(delta.Changed))
				}
			}
			if d := changed[f.login("dave")]; d.ExternalID != dave.ExternalID || !strings.EqualFold(d.DN, newDave) || !slices.Equal(d.Groups, groups("admins", "engineers", "staff")) {
				t.Errorf("moved dave: %+v (was %s)", d, dave.ExternalID)
			}
			if b := changed[f.login("bob")]; b.ManagerEmail != "new."+f.mail("alice") {
				t.Errorf("bob's manager mail %q", b.ManagerEmail)
			}
			if e := changed[f.login("eve")]; len(e.Groups) != 0 {
				t.Errorf("eve's groups %v", e.Groups)
			}
			if !slices.Contains(delta.Removed, gina.ExternalID) {
				t.Errorf("gina, moved out of the base DN (%s), not in Removed %v", gina.ExternalID, delta.Removed)
			}
			if !slices.Contains(delta.Removed, carol.ExternalID) {
				t.Errorf("deleted carol (%s) not in Removed %v", carol.ExternalID, delta.Removed)
			}
			if s.kind == directory.KindOpenLDAP {
				// Deletions came from the RFC 4533 refresh (syncprov),
				// changes from entryCSN.
				raw, err := json.Marshal(st)
				if err != nil || !strings.Contains(string(raw), `"cookie":`) || !strings.Contains(string(raw), `"clock":"csn"`) {
					t.Errorf("OpenLDAP state without a sync cookie: %.200s", raw)
				}
				// Without a cookie the entryUUID sweep finds the same
				// deletions; with modifyTimestamp instead of entryCSN
				// (a directory without syncprov) the same changes, plus
				// what changed within the mark's window.
				for _, edit := range []func(map[string]any){
					func(m map[string]any) { delete(m, "cookie") },
					func(m map[string]any) {
						delete(m, "cookie")
						m["clock"], m["mark"] = "time", time.Now().UTC().Add(-time.Hour).Format("20060102150405Z")
					},
				} {
					var m map[string]any
					json.Unmarshal(raw, &m)
					edit(m)
					raw2, _ := json.Marshal(m)
					var other directory.State
					if err := json.Unmarshal(raw2, &other); err != nil {
						t.Fatal(err)
					}
					d2, _, err := directory.Incremental(ctx, f.cfg, other)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(d2.Removed, delta.Removed) || len(d2.Changed) < len(delta.Changed) {
						t.Errorf("state %.80s: removed %v changed %d; with the cookie: removed %v changed %d", raw2, d2.Removed, len(d2.Changed), delta.Removed, len(delta.Changed))
					}
					if got := apply(held, d2); len(got) != len(held)-2+1 { // carol and gina gone, frank new
						t.Errorf("state %.80s: %d entries after the delta", raw2, len(got))
					}
				}
			}
			{
				// USNs and CSNs are exact: nothing unchanged is read again.
				if len(delta.Changed) != 5 {
					t.Errorf("delta has %d changed entries, want 5: %+v", len(delta.Changed), delta.Changed)
				}
			}
			held = apply(held, delta)
			sameAsFull(t, f, held)

			// Nesting: admins leaves engineers, so alice and dave lose
			// engineers and staff without their entries changing.
			time.Sleep(1100 * time.Millisecond)
			f.modify(f.groupDN("engineers"), func(r *ldap.ModifyRequest) { r.Delete("member", []string{f.groupDN("admins")}) })
			delta, st3, err := directory.Incremental(ctx, f.cfg, st2)
			if err != nil {
				t.Fatal(err)
			}
			changed = byLogin(delta.Changed)
			if a := changed[f.login("alice")]; !slices.Equal(a.Groups, groups("admins")) {
				t.Errorf("alice after un-nesting: %v", a.Groups)
			}
			if d := changed[f.login("dave")]; !slices.Equal(d.Groups, groups("admins")) {
				t.Errorf("dave after un-nesting: %v", d.Groups)
			}
			held = apply(held, delta)
			sameAsFull(t, f, held)

			// A group renamed: everyone below it has its new DN.
			time.Sleep(1100 * time.Millisecond)
			if err := s.admin.ModifyDN(ldap.NewModifyDNRequest(f.groupDN("staff"), "CN=everyone", true, "")); err != nil {
				t.Fatal(err)
			}
			delta, st3, err = directory.Incremental(ctx, f.cfg, st3)
			if err != nil {
				t.Fatal(err)
			}
			if b := byLogin(delta.Changed)[f.login("bob")]; !slices.Equal(b.Groups, groups("engineers", "everyone")) {
				t.Errorf("bob after the rename: %v", b.Groups)
			}
			held = apply(held, delta)
			sameAsFull(t, f, held)

			// Nothing changed: the delta is empty. (On AD, Removed may also
			// name users deleted or changed elsewhere in the domain since
			// the mark, e.g. by tests running beside this one: tombstones
			// keep no scope, and Removed may name IDs the caller never saw,
			// which a sync ignores. Only this fixture's users count here.)
			delta, _, err = directory.Incremental(ctx, f.cfg, st3)
			if err != nil {
				t.Fatal(err)
			}
			var ours []string
			for _, id := range delta.Removed {
				if _, held := held[id]; held {
					ours = append(ours, id)
				}
			}
			if len(delta.Changed) != 0 || len(ours) != 0 {
				t.Errorf("delta without changes: changed %v, removed of this fixture's users %v", delta.Changed, ours)
			}
			sameAsFull(t, f, apply(held, delta))
		})
	}
}

// checkInChain proves the client-side closure equals what AD's
// LDAP_MATCHING_RULE_IN_CHAIN gives for each user.
func checkInChain(t *testing.T, f *fixture, entries []directory.Entry) {
	t.Helper()
	for _, e := range entries {
		res, err := f.s.admin.Search(ldap.NewSearchRequest(f.ou, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			fmt.Sprintf("(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=%s))", ldap.EscapeFilter(e.DN)), []string{"1.1"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		var dns []string
		for _, g := range res.Entries {
			dns = append(dns, g.DN)
		}
		if want := norm(t, dns...); !slices.Equal(e.Groups, want) {
			t.Errorf("%s: closure %v, IN_CHAIN %v", e.Login, e.Groups, want)
		}
	}
}

func TestDirectoryDuplicates(t *testing.T) {
	s := openServer(t, "LANYARD_TEST_SLAPD", directory.KindOpenLDAP)
	f := s.fixture(t)
	f.user("ann", "", false)
	// Another ann in another OU: the same uid, and the same mail.
	f.add("uid="+f.login("ann")+",OU=Moved,"+f.ou, map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {f.login("ann")}, "cn": {"Ann Two"}, "sn": {"Two"}, "mail": {f.mail("ann")},
	})
	f.user("ben", "", false)
	cfg := f.cfg
	cfg.Mapping = directory.PresetOpenLDAP()
	cfg.Mapping.UPN = "mail"
	snap, err := directory.Full(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Entries) != 3 {
		t.Fatalf("entries: %+v", snap.Entries)
	}
	var upn, login int
	for _, p := range snap.Problems {
		if strings.Contains(p.Message, "UPN") {
			upn++
		}
		if strings.Contains(p.Message, "login") {
			login++
		}
	}
	if upn != 2 || login != 2 {
		t.Errorf("problems: %+v", snap.Problems)
	}
	for _, e := range snap.Entries {
		dup := strings.HasPrefix(e.Email, "ann.")
		if dup != (e.UPN == "") || dup != (e.Login == "") {
			t.Errorf("entry %+v", e)
		}
	}
}

func TestDirectoryAuthenticate(t *testing.T) {
	for _, s := range servers(t) {
		t.Run(s.kind, func(t *testing.T) {
			f := s.fixture(t)
			f.seed()
			ctx := ctxT(t)
			e, err := directory.Authenticate(ctx, f.cfg, f.login("alice"), f.pw)
			if err != nil {
				t.Fatal(err)
			}
			want := norm(t, f.groupDN("admins"), f.groupDN("engineers"), f.groupDN("staff"))
			if e.Login != f.login("alice") || e.Email != f.mail("alice") || !slices.Equal(e.Groups, want) {
				t.Errorf("entry %+v", e)
			}
			e, err = directory.Authenticate(ctx, f.cfg, f.login("bob"), f.pw)
			if err != nil || e.ManagerEmail != f.mail("alice") {
				t.Errorf("bob: %+v, %v", e, err)
			}
			if s.kind == directory.KindAD {
				e, err = directory.Authenticate(ctx, f.cfg, f.login("bob")+"@lanyard.test", f.pw)
				if err != nil || e.Login != f.login("bob") {
					t.Errorf("bob by UPN: %+v, %v", e, err)
				}
			}
			for _, tc := range []struct {
				name, login, pw string
				want            error
			}{
				{"wrong password", f.login("alice"), f.pw + "x", directory.ErrBadCredentials},
				{"empty password", f.login("alice"), "", directory.ErrBadCredentials},
				{"unknown user", "nobody" + f.tag, f.pw, directory.ErrNoSuchUser},
				{"wildcard injection", "*", f.pw, directory.ErrNoSuchUser},
				{"filter injection", f.login("alice") + ")(|(objectClass=*", f.pw, directory.ErrNoSuchUser},
				{"prefix wildcard", f.login("ali")[:3] + "*", f.pw, directory.ErrNoSuchUser},
			} {
				e, err := directory.Authenticate(ctx, f.cfg, tc.login, tc.pw)
				if !errors.Is(err, tc.want) || e != nil {
					t.Errorf("%s: %+v, %v; want %v", tc.name, e, err, tc.want)
				}
			}
			// Disabled: AD refuses the bind (49); OpenLDAP's lock is
			// reported after the bind.
			_, err = directory.Authenticate(ctx, f.cfg, f.login("carol"), f.pw)
			if !errors.Is(err, directory.ErrBadCredentials) && !errors.Is(err, directory.ErrDisabled) {
				t.Errorf("disabled carol: %v", err)
			}
		})
	}
}

func TestDirectoryFaults(t *testing.T) {
	for _, s := range servers(t) {
		t.Run(s.kind, func(t *testing.T) {
			f := s.fixture(t)
			f.seed()
			ctx := ctxT(t)

			if err := directory.Check(ctx, f.cfg); err != nil {
				t.Errorf("check: %v", err)
			}
			missing := f.cfg
			missing.BaseDN = "OU=nowhere," + f.ou
			if err := directory.Check(ctx, missing); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Errorf("check with a missing base DN: %v", err)
			}
			bad := f.cfg
			bad.BindPassword += "x"
			if err := directory.Check(ctx, bad); !errors.Is(err, directory.ErrServiceBind) {
				t.Errorf("check with a wrong bind password: %v", err)
			}
			if _, err := directory.Full(ctx, bad); !errors.Is(err, directory.ErrServiceBind) {
				t.Errorf("wrong bind password: %v", err)
			}
			if _, err := directory.Authenticate(ctx, bad, f.login("alice"), f.pw); !errors.Is(err, directory.ErrServiceBind) {
				t.Errorf("authenticate with a wrong bind password: %v", err)
			}

			down := f.cfg
			down.URL, down.Timeout = "ldaps://127.0.0.1:1", 5*time.Second
			if _, err := directory.Full(ctx, down); !errors.Is(err, directory.ErrUnreachable) {
				t.Errorf("unreachable: %v", err)
			}
			if _, err := directory.Authenticate(ctx, down, f.login("alice"), f.pw); !errors.Is(err, directory.ErrUnreachable) {
				t.Errorf("authenticate, unreachable: %v", err)
			}

			other := f.cfg
			other.CAPEM = otherCA(t)
			_, err := directory.Full(ctx, other)
			if !errors.Is(err, directory.ErrTLS) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("wrong CA: %v", err)
			}
			if _, err := directory.Authenticate(ctx, other, f.login("alice"), f.pw); !errors.Is(err, directory.ErrTLS) {
				t.Errorf("authenticate, wrong CA: %v", err)
			}

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if snap, err := directory.Full(cancelled, f.cfg); snap != nil || !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: %v, %v", snap, err)
			}
			// Interrupted half-way: a proxy counts the bytes the server
			// sends; the context is cancelled once half of a whole
			// read's bytes have passed. One entry per page makes the read
			// many round trips.
			slow := f.cfg
			slow.PageSize = 1
			var whole int64
			p := newProxy(t, slow.URL, func(n int64) { whole = n })
			slow.URL = p.url
			if _, err := directory.Full(ctx, slow); err != nil {
				t.Fatal(err)
			}
			p.wait()
			half, cancelHalf := context.WithCancel(ctx)
			defer cancelHalf()
			p2 := newProxy(t, f.cfg.URL, nil)
			p2.cancelAt(whole/2, cancelHalf)
			slow.URL = p2.url
			if snap, err := directory.Full(half, slow); snap != nil || !errors.Is(err, context.Canceled) {
				t.Errorf("interrupted after %d of %d bytes: snapshot %v, %v", whole/2, whole, snap != nil, err)
			}
		})
	}
}

func TestDirectoryStartTLS(t *testing.T) {
	s := openServer(t, "LANYARD_TEST_SLAPD", directory.KindOpenLDAP)
	f := s.fixture(t)
	f.seed()
	cfg := f.cfg
	cfg.URL, cfg.StartTLS = s.spec["starttls"], true
	snap, err := directory.Full(ctxT(t), cfg)
	if err != nil || len(snap.Entries) != 5 {
		t.Fatalf("StartTLS read: %v", err)
	}
	cfg.CAPEM = otherCA(t)
	if _, err := directory.Full(ctxT(t), cfg); !errors.Is(err, directory.ErrTLS) {
		t.Errorf("StartTLS with a wrong CA: %v", err)
	}
}
