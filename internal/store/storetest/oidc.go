package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// NewOIDCProvider returns an unsaved OIDC provider named name.
func NewOIDCProvider(name string) *lanyard.OIDCProvider {
	return &lanyard.OIDCProvider{Name: name, DisplayName: "Corp " + name, Issuer: "https://idp.example.test/" + name, ClientID: "lanyard",
		SealedSecret: []byte("sealed secret"), Scopes: []string{"openid", "email"}, Claim: "email", MatchAttribute: lanyard.MatchEmail,
		AMR: []string{"mfa", "hwk"}, ACR: []string{}, SelfService: true, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)}
}

// testOIDCProviders: a provider reads back as written, by ID and by
// name; names are unique; an update writes every field; a public
// client's empty secret reads back nil; deleting takes its sign-ins too.
func testOIDCProviders(t *testing.T, s lanyard.Store) {
	p, q := NewOIDCProvider("corp"), NewOIDCProvider("azure")
	q.SealedSecret, q.AMR = nil, nil
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateOIDCProvider(p); err != nil {
			return err
		}
		return tx.CreateOIDCProvider(q)
	})
	if q.SealedSecret != nil || q.AMR == nil {
		t.Errorf("Create left secret %v, amr %v; want nil and []", q.SealedSecret, q.AMR)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.OIDCProviderByName("corp")
		if err != nil {
			return err
		}
		equal(t, "OIDCProviderByName", got, p)
		if got, err = tx.OIDCProviderByID(q.ID); err != nil {
			return err
		}
		equal(t, "OIDCProviderByID", got, q)
		list, err := tx.ListOIDCProviders()
		if err != nil {
			return err
		}
		equal(t, "ListOIDCProviders", list, []*lanyard.OIDCProvider{q, p})
		_, err = tx.OIDCProviderByName("nope")
		wantCode(t, "OIDCProviderByName missing", err, lanyard.ENotFound)
		_, err = tx.OIDCProviderByID(q.ID + p.ID)
		wantCode(t, "OIDCProviderByID missing", err, lanyard.ENotFound)
		return nil
	})
	dup := NewOIDCProvider("corp")
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateOIDCProvider(dup) })
	wantCode(t, "CreateOIDCProvider duplicate", err, lanyard.EConflict)

	p.DisplayName, p.Issuer, p.ClientID, p.SealedSecret = "Corp SSO", "https://sso.example.test", "lanyard2", nil
	p.Scopes, p.Claim, p.MatchAttribute, p.JIT = []string{"openid"}, "upn", lanyard.MatchUPN, true
	p.AMR, p.ACR, p.SelfService, p.Console, p.UpdatedAt = []string{"otp"}, []string{"urn:mace:incommon:iap:silver"}, false, true, at(time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateOIDCProvider(p) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.OIDCProviderByID(p.ID)
		if err != nil {
			return err
		}
		equal(t, "after UpdateOIDCProvider", got, p)
		return nil
	})
	p.Name = "azure"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateOIDCProvider(p) })
	wantCode(t, "UpdateOIDCProvider to a taken name", err, lanyard.EConflict)
	p.Name = "corp"
	missing := NewOIDCProvider("gone")
	missing.ID = p.ID + q.ID
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateOIDCProvider(missing) })
	wantCode(t, "UpdateOIDCProvider missing", err, lanyard.ENotFound)

	l := newOIDCLogin(p.ID, "s1", at(0))
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOIDCLogin(l) })
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteOIDCProvider(p.ID) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.TakeOIDCLogin(l.StateHash); return err })
	wantCode(t, "TakeOIDCLogin of a deleted provider's sign-in", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteOIDCProvider(p.ID) })
	wantCode(t, "DeleteOIDCProvider twice", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateOIDCLogin(newOIDCLogin(p.ID, "s2", at(0))) })
	wantCode(t, "CreateOIDCLogin for a missing provider", err, lanyard.EInvalid)
}

func newOIDCLogin(providerID int64, state string, created time.Time) *lanyard.OIDCLogin {
	return &lanyard.OIDCLogin{StateHash: []byte("state:" + state), ProviderID: providerID, BrowserHash: []byte("browser:" + state),
		Nonce: "nonce-" + state, SealedVerifier: []byte("verifier:" + state), Next: "/console/", Client: "ip:" + state, CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute)}
}

// testOIDCLogins: a sign-in reads back as written once (TakeOIDCLogin
// deletes it), a state is unique, expired sign-ins are purged and
// others kept, and of concurrent takes of one sign-in exactly one wins.
func testOIDCLogins(t *testing.T, s lanyard.Store) {
	p := NewOIDCProvider("corp")
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOIDCProvider(p) })
	a, b := newOIDCLogin(p.ID, "a", at(0)), newOIDCLogin(p.ID, "b", at(time.Hour))
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateOIDCLogin(a); err != nil {
			return err
		}
		return tx.CreateOIDCLogin(b)
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateOIDCLogin(newOIDCLogin(p.ID, "a", at(0))) })
	wantCode(t, "CreateOIDCLogin same state", err, lanyard.EConflict)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TakeOIDCLogin(a.StateHash)
		if err != nil {
			return err
		}
		equal(t, "TakeOIDCLogin", got, a)
		return nil
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.TakeOIDCLogin(a.StateHash); return err })
	wantCode(t, "TakeOIDCLogin twice", err, lanyard.ENotFound)

	c := newOIDCLogin(p.ID, "c", at(0))
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOIDCLogin(c) })
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		n, err := tx.DeleteExpiredOIDCLogins(c.ExpiresAt)
		if n != 1 {
			t.Errorf("DeleteExpiredOIDCLogins = %d, want 1 (c expired, b not)", n)
		}
		return err
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.TakeOIDCLogin(c.StateHash); return err })
	wantCode(t, "TakeOIDCLogin expired and purged", err, lanyard.ENotFound)

	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, misses := 0, 0
	for range 4 {
		wg.Go(func() {
			err := s.Update(t.Context(), func(tx lanyard.Tx) error { _, err := tx.TakeOIDCLogin(b.StateHash); return err })
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case lanyard.IsCode(err, lanyard.ENotFound):
				misses++
			default:
				t.Errorf("concurrent TakeOIDCLogin: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || misses != 3 {
		t.Errorf("concurrent TakeOIDCLogin: %d won, %d found none; want 1 and 3", wins, misses)
	}
}

// testUsersByEmail: every holder of an address is found, ignoring case,
// in ID order; none for an empty address or one nobody has.
func testUsersByEmail(t *testing.T, s lanyard.Store) {
	a, b, c, d := NewUser("ann"), NewUser("ann2"), NewUser("bob"), NewUser("noaddr")
	a.Email, b.Email, c.Email, d.Email = "Ann@Example.test", "ann@example.test", "bob@example.test", ""
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, u := range []*lanyard.User{a, b, c, d} {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UsersByEmail("ANN@example.TEST")
		if err != nil {
			return err
		}
		equal(t, "UsersByEmail two holders", got, []*lanyard.User{a, b})
		if got, err = tx.UsersByEmail("bob@example.test"); err != nil {
			return err
		}
		equal(t, "UsersByEmail one", got, []*lanyard.User{c})
		for _, e := range []string{"", "nobody@example.test"} {
			if got, err = tx.UsersByEmail(e); err != nil {
				return err
			}
			equal(t, "UsersByEmail "+e, got, []*lanyard.User{})
		}
		return nil
	})
}

// testOIDCBindings: a binding reads back and is replaced by another;
// UpdateUser keeps it when nothing matched on changes and deletes it
// when the login, e-mail or UPN changes or the user is made staff (not
// when a staff account's roles change); sign-ins under way are
// counted per client and only while unexpired.
func testOIDCBindings(t *testing.T, s lanyard.Store) {
	u := NewUser("bound")
	u.Email, u.UPN, u.Roles = "bound@example.test", "bound@corp.example", lanyard.Roles{lanyard.RoleUser}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	binding := func() string {
		var sub string
		MustView(t, s, func(tx lanyard.Tx) (err error) {
			sub, err = tx.OIDCBinding(u.ID)
			if lanyard.IsCode(err, lanyard.ENotFound) {
				return nil
			}
			return err
		})
		return sub
	}
	bind := func(sub string) {
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.SetOIDCBinding(u.ID, sub, at(0)) })
	}
	if b := binding(); b != "" {
		t.Fatalf("new user bound to %q", b)
	}
	bind("https://idp#1")
	bind("https://idp#2")
	if b := binding(); b != "https://idp#2" {
		t.Fatalf("binding = %q, want https://idp#2", b)
	}
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetOIDCBinding(u.ID+1000, "x#y", at(0)) })
	wantCode(t, "SetOIDCBinding of no user", err, lanyard.EInvalid)

	update := func(edit func(*lanyard.User)) {
		edit(u)
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(u) })
	}
	update(func(u *lanyard.User) { u.DisplayName = "Bound Person" })
	if b := binding(); b != "https://idp#2" {
		t.Fatalf("after a display name change: binding %q, want kept", b)
	}
	for name, edit := range map[string]func(*lanyard.User){
		"login": func(u *lanyard.User) { u.Login += "x" },
		"email": func(u *lanyard.User) { u.Email = "x" + u.Email },
		"upn":   func(u *lanyard.User) { u.UPN = "x" + u.UPN },
		"roles": func(u *lanyard.User) { u.Roles = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator} },
	} {
		update(func(u *lanyard.User) { u.Roles = lanyard.Roles{lanyard.RoleUser} })
		bind("https://idp#3")
		update(edit)
		if b := binding(); b != "" {
			t.Errorf("after a %s change: still bound to %q", name, b)
		}
	}

	// Staff already: another staff role, or roles in another order, keep
	// the binding (it was made under the staff rule). (The loop above ran
	// its edits in map order: make the account staff first.)
	update(func(u *lanyard.User) { u.Roles = lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator} })
	bind("https://idp#4")
	update(func(u *lanyard.User) {
		u.Roles = lanyard.Roles{lanyard.RoleOperator, lanyard.RoleUser, lanyard.RoleAdministrator}
	})
	if b := binding(); b != "https://idp#4" {
		t.Errorf("after staff roles changed: binding %q, want kept", b)
	}

	p := NewOIDCProvider("count")
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateOIDCProvider(p) })
	a, b, c := newOIDCLogin(p.ID, "ca", at(0)), newOIDCLogin(p.ID, "cb", at(time.Hour)), newOIDCLogin(p.ID, "cc", at(time.Hour))
	a.Client, b.Client, c.Client = "ip:192.0.2.1", "ip:192.0.2.1", "ip:192.0.2.2"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.LockOIDCLogins(); err != nil {
			return err
		}
		for _, l := range []*lanyard.OIDCLogin{a, b, c} {
			if err := tx.CreateOIDCLogin(l); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, tc := range []struct {
			client string
			now    time.Time
			want   int
		}{{"ip:192.0.2.1", a.CreatedAt, 2}, {"ip:192.0.2.1", a.ExpiresAt, 1}, {"ip:192.0.2.2", a.CreatedAt, 1}, {"ip:192.0.2.3", a.CreatedAt, 0}} {
			n, err := tx.CountOIDCLogins(tc.client, tc.now)
			if err != nil {
				return err
			}
			if n != tc.want {
				t.Errorf("CountOIDCLogins(%s, %v) = %d, want %d", tc.client, tc.now, n, tc.want)
			}
		}
		for _, tc := range []struct {
			provider int64
			now      time.Time
			want     int
		}{{p.ID, a.CreatedAt, 3}, {p.ID, a.ExpiresAt, 2}, {p.ID + 1, a.CreatedAt, 0}} {
			n, err := tx.CountProviderOIDCLogins(tc.provider, tc.now)
			if err != nil {
				return err
			}
			if n != tc.want {
				t.Errorf("CountProviderOIDCLogins(%d, %v) = %d, want %d", tc.provider, tc.now, n, tc.want)
			}
		}
		return nil
	})
}
