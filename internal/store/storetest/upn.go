package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testUPNUnique: a UPN names one user ignoring case, on create and on
// update; empty UPNs are not unique; UserByUPN ignores case.
func testUPNUnique(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	alice.UPN, bob.UPN = "Alice@Corp.Example.com", ""
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.UpdateUser(alice); err != nil {
			return err
		}
		return tx.UpdateUser(bob)
	})
	// Many users without a UPN.
	carol := NewUser("carol")
	carol.UPN = ""
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateUser(carol) })

	MustView(t, s, func(tx lanyard.Tx) error {
		for _, q := range []string{"Alice@Corp.Example.com", "alice@corp.example.com", "ALICE@CORP.EXAMPLE.COM"} {
			got, err := tx.UserByUPN(q)
			if err != nil {
				return err
			}
			if got.ID != alice.ID {
				t.Errorf("UserByUPN(%q) = user %d, want alice (%d)", q, got.ID, alice.ID)
			}
		}
		_, err := tx.UserByUPN("")
		wantCode(t, "UserByUPN empty", err, lanyard.ENotFound)
		_, err = tx.UserByUPN("nobody@corp.example.com")
		wantCode(t, "UserByUPN unknown", err, lanyard.ENotFound)
		wantMessage(t, "UserByUPN unknown", err, `no user has the UPN "nobody@corp.example.com"`)
		return nil
	})

	for _, upn := range []string{"Alice@Corp.Example.com", "alice@corp.example.com", "ALICE@corp.EXAMPLE.com"} {
		taken := *bob
		taken.UPN = upn
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateUser(&taken) })
		wantCode(t, "UpdateUser onto a taken UPN "+upn, err, lanyard.EConflict)
		wantMessage(t, "UpdateUser onto a taken UPN "+upn, err, `UPN "`+upn+`" is already used by another user`)
		dave := NewUser("dave")
		dave.UPN = upn
		err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateUser(dave) })
		wantCode(t, "CreateUser with a taken UPN "+upn, err, lanyard.EConflict)
		wantMessage(t, "CreateUser with a taken UPN "+upn, err, `UPN "`+upn+`" is already used by another user`)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UserByLogin("bob")
		if err != nil {
			return err
		}
		if got.UPN != "" {
			t.Errorf("bob's UPN after refused updates: %q", got.UPN)
		}
		_, err = tx.UserByLogin("dave")
		wantCode(t, "dave after refused creates", err, lanyard.ENotFound)
		return nil
	})

	// A user keeps (or recases) their own UPN.
	alice.UPN = "alice@corp.example.com"
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(alice) })
	testUPNHistory(t, s, alice, bob)
}

// testUPNHistory: a UPN given up stays with the user who held it: nobody
// else gets it, in any case, on update or create, in the same transaction
// or later; its holder gets it back. alice holds alice@corp.example.com,
// bob has no UPN.
func testUPNHistory(t *testing.T, s lanyard.Store, alice, bob *lanyard.User) {
	t.Helper()
	const belonged = `belonged to another user`
	// The two-step move in one transaction: the second step fails.
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		a, b := *alice, *bob
		a.UPN, b.UPN = "alice.old@corp.example.com", "ALICE@corp.example.com"
		if err := tx.UpdateUser(&a); err != nil {
			return err
		}
		return tx.UpdateUser(&b)
	})
	wantCode(t, "move a UPN in one transaction", err, lanyard.EConflict)
	wantMessage(t, "move a UPN in one transaction", err, `UPN "ALICE@corp.example.com" `+belonged)
	// ... and in two.
	alice.UPN = ""
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(alice) })
	for _, upn := range []string{"alice@corp.example.com", "Alice@Corp.Example.COM"} {
		taken := *bob
		taken.UPN = upn
		err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateUser(&taken) })
		wantCode(t, "UpdateUser onto a given-up UPN "+upn, err, lanyard.EConflict)
		wantMessage(t, "UpdateUser onto a given-up UPN "+upn, err, `UPN "`+upn+`" `+belonged)
		erin := NewUser("erin")
		erin.UPN = upn
		err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateUser(erin) })
		wantCode(t, "CreateUser with a given-up UPN "+upn, err, lanyard.EConflict)
		wantMessage(t, "CreateUser with a given-up UPN "+upn, err, `UPN "`+upn+`" `+belonged)
	}
	// A refused create writes nothing and leaves the transaction usable
	// (the refusal comes from a read, not from a failed statement).
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		gina := NewUser("gina")
		gina.UPN = "alice@corp.example.com"
		wantMessage(t, "CreateUser with a given-up UPN, then go on", tx.CreateUser(gina), `UPN "alice@corp.example.com" `+belonged)
		_, err := tx.UserByLogin("gina")
		wantCode(t, "the refused user", err, lanyard.ENotFound)
		return tx.CreateUser(NewUser("gina2"))
	})
	// A UPN set on create is held too.
	frank := NewUser("frank")
	frank.UPN = "frank@corp.example.com"
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateUser(frank) })
	frank.UPN = ""
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(frank) })
	bob.UPN = "FRANK@corp.example.com"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateUser(bob) })
	wantMessage(t, "UpdateUser onto frank's old UPN", err, `UPN "FRANK@corp.example.com" `+belonged)
	// The holder gets it back, in another case; a new UPN is free.
	alice.UPN, bob.UPN = "Alice@corp.example.com", "bob@corp.example.com"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.UpdateUser(alice); err != nil {
			return err
		}
		return tx.UpdateUser(bob)
	})
}

// testUserCredentials: a user's sessions and tokens end together, other
// users' stay.
func testUserCredentials(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	tokens := []*lanyard.APIToken{
		{UserID: alice.ID, Name: "a1", Hash: []byte("a1"), CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{UserID: alice.ID, Name: "a2", Hash: []byte("a2"), CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{UserID: alice.ID, Name: "a3", Hash: []byte("a3"), CreatedAt: t0, ExpiresAt: at(time.Hour), Revoked: true},
		{UserID: bob.ID, Name: "b1", Hash: []byte("b1"), CreatedAt: t0, ExpiresAt: at(time.Hour)},
	}
	sessions := []*lanyard.Session{
		{Hash: []byte("sa1"), UserID: alice.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{Hash: []byte("sa2"), UserID: alice.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{Hash: []byte("sb1"), UserID: bob.ID, CreatedAt: t0, ExpiresAt: at(time.Hour)},
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, k := range tokens {
			if err := tx.CreateToken(k); err != nil {
				return err
			}
		}
		for _, x := range sessions {
			if err := tx.CreateSession(x); err != nil {
				return err
			}
		}
		return nil
	})
	var revoked, deleted int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		if revoked, err = tx.RevokeUserTokens(alice.ID); err != nil {
			return err
		}
		deleted, err = tx.DeleteUserSessions(alice.ID)
		return err
	})
	if revoked != 2 || deleted != 2 {
		t.Errorf("RevokeUserTokens = %d, DeleteUserSessions = %d; want 2 and 2", revoked, deleted)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, k := range tokens {
			got, err := tx.TokenByID(k.ID)
			if err != nil {
				return err
			}
			if want := k.UserID == alice.ID; got.Revoked != want {
				t.Errorf("token %s revoked = %v, want %v", k.Name, got.Revoked, want)
			}
		}
		for _, x := range sessions {
			_, err := tx.SessionByHash(x.Hash)
			if x.UserID == alice.ID {
				wantCode(t, "alice's session "+string(x.Hash), err, lanyard.ENotFound)
			} else if err != nil {
				t.Errorf("bob's session: %v", err)
			}
		}
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		if revoked, err = tx.RevokeUserTokens(999_999); err != nil {
			return err
		}
		deleted, err = tx.DeleteUserSessions(999_999)
		return err
	})
	if revoked != 0 || deleted != 0 {
		t.Errorf("for a missing user: RevokeUserTokens = %d, DeleteUserSessions = %d; want 0 and 0", revoked, deleted)
	}
}
