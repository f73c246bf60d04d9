package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testUsers(t *testing.T, s lanyard.Store) {
	alice := NewUser("alice")
	bare := &lanyard.User{Login: "bob", CreatedAt: t0, UpdatedAt: t0} // nil Groups and Roles
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateUser(alice); err != nil {
			return err
		}
		return tx.CreateUser(bare)
	})
	if alice.ID == 0 || bare.ID == 0 || alice.ID == bare.ID {
		t.Fatalf("CreateUser ids %d, %d: want distinct, non-zero", alice.ID, bare.ID)
	}
	wantTime(t, "CreatedAt", alice.CreatedAt, t0)
	wantTime(t, "UpdatedAt", alice.UpdatedAt, at(time.Minute))
	if bare.Groups == nil || bare.Roles == nil {
		t.Errorf("CreateUser left nil lists in the struct: Groups %v, Roles %v", show(bare.Groups), show(bare.Roles))
	}

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UserByID(alice.ID)
		if err != nil {
			return err
		}
		equal(t, "UserByID", got, alice)
		got, err = tx.UserByLogin("bob")
		if err != nil {
			return err
		}
		equal(t, "UserByLogin", got, bare)
		if got.Groups == nil || len(got.Groups) != 0 || got.Roles == nil || len(got.Roles) != 0 {
			t.Errorf("user created with nil lists reads back Groups %s, Roles %s: want empty, non-nil", show(got.Groups), show(got.Roles))
		}

		_, err = tx.UserByID(999_999)
		wantCode(t, "UserByID missing", err, lanyard.ENotFound)
		wantMessage(t, "UserByID missing", err, "user 999999 not found")
		_, err = tx.UserByLogin("nobody")
		wantCode(t, "UserByLogin missing", err, lanyard.ENotFound)
		wantMessage(t, "UserByLogin missing", err, `user "nobody" not found`)

		n, err := tx.CountUsers()
		if err != nil {
			return err
		}
		if n != 2 {
			t.Errorf("CountUsers = %d, want 2", n)
		}
		return nil
	})

	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateUser(NewUser("alice")) })
	wantCode(t, "CreateUser duplicate login", err, lanyard.EConflict)
	wantMessage(t, "CreateUser duplicate login", err, `user "alice" already exists`)

	t.Run("update", func(t *testing.T) {
		upd := &lanyard.User{
			ID: alice.ID, Login: "alice2", DisplayName: "Alice Changed", Email: "a2@example.org", UPN: "a2@corp",
			ManagerEmail: "", Groups: []string{"new"}, Roles: lanyard.Roles{lanyard.RoleAuditor}, Disabled: true,
			PasswordHash: "", CreatedAt: at(-time.Hour), UpdatedAt: at(3 * time.Hour),
		}
		MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(upd) })
		want := *upd
		want.CreatedAt = alice.CreatedAt
		MustView(t, s, func(tx lanyard.Tx) error {
			got, err := tx.UserByID(alice.ID)
			if err != nil {
				return err
			}
			equal(t, "updated user", got, &want)
			_, err = tx.UserByLogin("alice")
			wantCode(t, "old login after rename", err, lanyard.ENotFound)
			return nil
		})

		err := s.Update(t.Context(), func(tx lanyard.Tx) error {
			return tx.UpdateUser(&lanyard.User{ID: 999_999, Login: "ghost", CreatedAt: t0, UpdatedAt: t0})
		})
		wantCode(t, "UpdateUser missing", err, lanyard.ENotFound)

		clash := *bare
		clash.Login = "alice2"
		err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateUser(&clash) })
		wantCode(t, "UpdateUser onto a taken login", err, lanyard.EConflict)
	})
}

func testUserFilters(t *testing.T, s lanyard.Store) {
	mk := func(login, display, email string, groups []string, roles ...lanyard.Role) *lanyard.User {
		return &lanyard.User{Login: login, DisplayName: display, Email: email, Groups: groups, Roles: roles, CreatedAt: t0, UpdatedAt: t0}
	}
	users := []*lanyard.User{
		mk("carol", "Carol Clark", "carol@Example.org", nil, lanyard.RoleAuditor),
		mk("alice", "Alice Adams", "alice@example.com", []string{"eng", "ops"}, lanyard.RoleUser, lanyard.RoleAdministrator),
		mk("dave_x", "Dave X", "", []string{"engineering"}),
		mk("bob", "Bob Brown", "bob@example.com", []string{"eng"}, lanyard.RoleUser),
		mk("dave1", "Dave One", "", nil),
		mk("Zed", "Zed Z", "", nil), // upper case sorts first in byte order, whatever the locale
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	id := map[string]int64{}
	for _, u := range users {
		id[u.Login] = u.ID
	}
	tests := []struct {
		name string
		f    lanyard.UserFilter
		want []string // logins, in order
	}{
		{"all, by login in byte order", lanyard.UserFilter{}, []string{"Zed", "alice", "bob", "carol", "dave1", "dave_x"}},
		{"query is case-insensitive", lanyard.UserFilter{Query: "ALI"}, []string{"alice"}},
		{"query matches e-mail", lanyard.UserFilter{Query: "example.ORG"}, []string{"carol"}},
		{"query matches display name", lanyard.UserFilter{Query: "brown"}, []string{"bob"}},
		{"query underscore is literal", lanyard.UserFilter{Query: "_"}, []string{"dave_x"}},
		{"query percent is literal", lanyard.UserFilter{Query: "%"}, nil},
		{"group membership", lanyard.UserFilter{Group: "eng"}, []string{"alice", "bob"}},
		{"group is exact, not a prefix", lanyard.UserFilter{Group: "en"}, nil},
		{"second group", lanyard.UserFilter{Group: "ops"}, []string{"alice"}},
		{"role", lanyard.UserFilter{Role: lanyard.RoleUser}, []string{"alice", "bob"}},
		{"group and role", lanyard.UserFilter{Group: "eng", Role: lanyard.RoleAdministrator}, []string{"alice"}},
		{"query and group", lanyard.UserFilter{Query: "b", Group: "eng"}, []string{"bob"}},
		{"limit", lanyard.UserFilter{Limit: 2}, []string{"Zed", "alice"}},
		{"limit and offset", lanyard.UserFilter{Limit: 2, Offset: 2}, []string{"bob", "carol"}},
		{"offset without limit", lanyard.UserFilter{Offset: 4}, []string{"dave1", "dave_x"}},
		{"offset past the end", lanyard.UserFilter{Offset: 10}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			MustView(t, s, func(tx lanyard.Tx) error {
				got, err := tx.ListUsers(tc.f)
				if err != nil {
					return err
				}
				var want []int64
				for _, l := range tc.want {
					want = append(want, id[l])
				}
				wantIDs(t, "ListUsers", got, func(u *lanyard.User) int64 { return u.ID }, want...)
				return nil
			})
		})
	}
}
