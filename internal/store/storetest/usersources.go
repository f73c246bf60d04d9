package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testUserSources: an account's source fields read back as written; an
// account is found by (source, source ID, external ID) and by nothing
// less; two accounts never share that triple, while the same external ID
// at two sources (or two directory sources) is two accounts.
func testUserSources(t *testing.T, s lanyard.Store) {
	ad := NewUser("ada")
	ad.Source, ad.SourceID, ad.ExternalID, ad.DN = lanyard.SourceLDAP, 7, "guid-1", "CN=Ada,OU=Staff,DC=example,DC=test"
	other := NewUser("ada2")
	other.Source, other.SourceID, other.ExternalID = lanyard.SourceLDAP, 8, "guid-1" // same ID, other directory
	pushed := NewUser("ada3")
	pushed.Source, pushed.ExternalID = lanyard.SourceSCIM, "guid-1"
	local := NewUser("lou")
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, u := range []*lanyard.User{ad, other, pushed, local} {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UserByExternalID(lanyard.SourceLDAP, 7, "guid-1")
		if err != nil {
			return err
		}
		equal(t, "UserByExternalID", got, ad)
		if got, err = tx.UserByExternalID(lanyard.SourceSCIM, 0, "guid-1"); err != nil {
			return err
		}
		equal(t, "UserByExternalID scim", got, pushed)
		_, err = tx.UserByExternalID(lanyard.SourceLDAP, 9, "guid-1")
		wantCode(t, "UserByExternalID other source", err, lanyard.ENotFound)
		_, err = tx.UserByExternalID(lanyard.SourceLocal, 0, "")
		wantCode(t, "UserByExternalID empty", err, lanyard.ENotFound)
		got, err = tx.UserByLogin("lou")
		if err != nil {
			return err
		}
		if got.Source != lanyard.SourceLocal || got.External() {
			t.Errorf("local user reads back source %q (external %v)", got.Source, got.External())
		}
		return nil
	})

	clash := NewUser("ada4")
	clash.Source, clash.SourceID, clash.ExternalID = lanyard.SourceLDAP, 7, "guid-1"
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateUser(clash) })
	wantCode(t, "CreateUser duplicate external ID", err, lanyard.EConflict)

	ad.DN, ad.ExternalID = "CN=Ada,OU=Moved,DC=example,DC=test", "guid-2"
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateUser(ad) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UserByExternalID(lanyard.SourceLDAP, 7, "guid-2")
		if err != nil {
			return err
		}
		equal(t, "UserByExternalID after update", got, ad)
		return nil
	})
}
