package identity_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// An account a directory or a SCIM client keeps is changed there: an
// edit of what the source owns is refused and writes nothing, whoever
// asks; Lanyard's own fields (roles) stay editable, and a staff role is
// granted without the new password a local account needs (its password
// lives at the source), its sessions and tokens ended instead.
func TestExternalAccountOwnedBySource(t *testing.T) {
	e := newUserEnv(t)
	ctx := context.Background()
	for _, src := range []lanyard.UserSource{lanyard.SourceLDAP, lanyard.SourceSCIM} {
		login := "ext-" + string(src)
		u := storetest.NewUser(login)
		u.Source, u.SourceID, u.ExternalID, u.Email = src, 1, "id-"+login, login+"@example.test"
		u.Roles, u.PasswordHash, u.UPN = lanyard.Roles{lanyard.RoleUser}, "", ""
		if src == lanyard.SourceSCIM {
			u.SourceID = 0
		}
		storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
		before := e.user(t, login)

		mail, upn, name, pw := "other@example.test", login+"@corp.example", "Someone Else", "a password of Lanyard's"
		groups := []string{"cn=admins,dc=example,dc=test"}
		for _, tc := range []struct {
			what string
			in   identity.UserInput
			want string
		}{
			{"e-mail", identity.UserInput{Email: &mail}, "change e-mail there"},
			{"UPN", identity.UserInput{UPN: &upn}, "change UPN there"},
			{"display name", identity.UserInput{DisplayName: &name}, "change display name there"},
			{"groups", identity.UserInput{Groups: &groups}, "change groups there"},
			{"password", identity.UserInput{Password: &pw}, "change password there"},
		} {
			snap := e.snapshot(t)
			_, err := e.svc.Identity.UpdateUser(ctx, e.ada, login, tc.in)
			wantErr(t, string(src)+" "+tc.what, err, lanyard.EInvalid, tc.want)
			if e.snapshot(t) != snap || !reflect.DeepEqual(e.user(t, login), before) {
				t.Fatalf("%s %s: a refused edit wrote something", src, tc.what)
			}
		}
		// The whole account sent back unchanged, with a new role, saves.
		same, sameMail := before.DisplayName, before.Email
		admin := lanyard.Roles{lanyard.RoleUser, lanyard.RoleAdministrator}
		tok, err := e.svc.Identity.CreateToken(ctx, e.ada, identity.TokenInput{User: login, TTL: "1h"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Identity.UpdateUser(ctx, e.ada, login, identity.UserInput{DisplayName: &same, Email: &sameMail, Roles: &admin})
		if err != nil {
			t.Fatalf("%s: role change with unchanged profile: %v", src, err)
		}
		if !got.Roles.Has(lanyard.RoleAdministrator) || got.Email != before.Email {
			t.Fatalf("%s: after the grant: %+v", src, got)
		}
		if _, err := e.svc.Identity.AuthenticateToken(ctx, tok.Secret, remote); err == nil {
			t.Errorf("%s: the account's token survived a staff grant", src)
		}

		// Staff may stop the account at once; the source's "enabled" does
		// not undo that (DisabledBy), and staff may enable it again.
		yes, no := true, false
		got, err = e.svc.Identity.UpdateUser(ctx, e.ada, login, identity.UserInput{Disabled: &yes})
		if err != nil || !got.Disabled || got.DisabledBy != lanyard.DisabledByAdmin {
			t.Fatalf("%s: administrative disable: %+v, %v", src, got, err)
		}
		if got, err = e.svc.Identity.UpdateUser(ctx, e.ada, login, identity.UserInput{Disabled: &no}); err != nil || got.Disabled || got.DisabledBy != "" {
			t.Fatalf("%s: undoing the administrative disable: %+v, %v", src, got, err)
		}
		// Disabled by its source: only the source enables it.
		storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
			u, err := tx.UserByLogin(login)
			if err != nil {
				return err
			}
			u.Disabled, u.DisabledBy = true, lanyard.DisabledBySource
			return tx.UpdateUser(u)
		})
		snap := e.snapshot(t)
		_, err = e.svc.Identity.UpdateUser(ctx, e.ada, login, identity.UserInput{Disabled: &no})
		wantErr(t, string(src)+" enabling a source's disable", err, lanyard.EInvalid, "enable it there")
		if e.snapshot(t) != snap || !e.user(t, login).Disabled {
			t.Fatalf("%s: a refused enable wrote something", src)
		}
		if src == lanyard.SourceLDAP {
			// Its directory source was deleted (the ID negated): staff may.
			storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
				u, err := tx.UserByLogin(login)
				if err != nil {
					return err
				}
				u.SourceID = -u.SourceID
				return tx.UpdateUser(u)
			})
			if got, err := e.svc.Identity.UpdateUser(ctx, e.ada, login, identity.UserInput{Disabled: &no}); err != nil || got.Disabled {
				t.Fatalf("enabling an account of a deleted source: %+v, %v", got, err)
			}
		}
	}
}
