package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testSCIMTokens: SCIM tokens round-trip, are found by hash and id,
// names are unique, revoke and touch write what they say.
func testSCIMTokens(t *testing.T, s lanyard.Store) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123000, time.UTC)
	k := &lanyard.SCIMToken{Name: "entra", Prefix: "lys_abcd", Hash: []byte("hash-1"), CreatedBy: "admin", CreatedAt: now}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateSCIMToken(k) })
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateSCIMToken(&lanyard.SCIMToken{Name: "entra", Hash: []byte("hash-2"), CreatedAt: now})
	})
	wantCode(t, "CreateSCIMToken same name", err, lanyard.EConflict)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.TouchSCIMToken(k.ID, now.Add(time.Hour)); err != nil {
			return err
		}
		return tx.RevokeSCIMToken(k.ID)
	})
	k.LastUsedAt, k.Revoked = now.Add(time.Hour), true
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.SCIMTokenByHash([]byte("hash-1"))
		if err != nil {
			return err
		}
		equal(t, "SCIMTokenByHash", got, k)
		if got, err = tx.SCIMTokenByID(k.ID); err != nil {
			return err
		}
		equal(t, "SCIMTokenByID", got, k)
		list, err := tx.ListSCIMTokens()
		if err != nil {
			return err
		}
		equal(t, "ListSCIMTokens", list, []*lanyard.SCIMToken{k})
		_, err = tx.SCIMTokenByHash([]byte("nope"))
		wantCode(t, "SCIMTokenByHash unknown", err, lanyard.ENotFound)
		// An API token's lookup never finds a SCIM token.
		_, err = tx.TokenByHash([]byte("hash-1"))
		wantCode(t, "TokenByHash of a SCIM token", err, lanyard.ENotFound)
		return nil
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.RevokeSCIMToken(k.ID + 100) })
	wantCode(t, "RevokeSCIMToken unknown", err, lanyard.ENotFound)
}

// testSCIMUsersGroups: SCIM attributes of accounts, the SCIM accounts'
// listing (only source scim, paged), groups with unique names ignoring
// case, membership both ways, deleting a group with its memberships.
func testSCIMUsersGroups(t *testing.T, s lanyard.Store) {
	var users []*lanyard.User
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i, login := range []string{"ann", "bob", "cy"} {
			u := NewUser(login)
			u.Source, u.ExternalID = lanyard.SourceSCIM, "id-"+login
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			if err := tx.PutSCIMUser(&lanyard.SCIMUser{UserID: u.ID, Client: "c", ExternalID: []string{"x1", "x2", "x1"}[i], Attributes: []byte(`{"name":{"givenName":"` + login + `"}}`)}); err != nil {
				return err
			}
			users = append(users, u)
		}
		if err := tx.CreateUser(NewUser("local")); err != nil {
			return err
		}
		// A second put replaces.
		if err := tx.PutSCIMUser(&lanyard.SCIMUser{UserID: users[2].ID, Client: "c", ExternalID: "x3", Attributes: []byte(`{}`)}); err != nil {
			return err
		}
		// A deleted one is not listed, counted or found by externalId.
		d := NewUser("dee")
		d.Source, d.ExternalID = lanyard.SourceSCIM, "id-dee"
		if err := tx.CreateUser(d); err != nil {
			return err
		}
		return tx.PutSCIMUser(&lanyard.SCIMUser{UserID: d.ID, Client: "c", ExternalID: "x1", Attributes: []byte(`{}`), Deleted: true})
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.PutSCIMUser(&lanyard.SCIMUser{UserID: 99999, Attributes: []byte(`{}`)})
	})
	wantCode(t, "PutSCIMUser unknown user", err, lanyard.EInvalid)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.SCIMUser(users[0].ID)
		if err != nil {
			return err
		}
		equal(t, "SCIMUser", got, &lanyard.SCIMUser{UserID: users[0].ID, Client: "c", ExternalID: "x1", Attributes: []byte(`{"name":{"givenName":"ann"}}`)})
		n, err := tx.CountSCIMUsers("c")
		if err != nil {
			return err
		}
		equal(t, "CountSCIMUsers", n, 3)
		us, attrs, err := tx.ListSCIMUsers("c", 1, 5)
		if err != nil {
			return err
		}
		equal(t, "ListSCIMUsers page", us, users[1:])
		equal(t, "ListSCIMUsers attrs", attrs[1], &lanyard.SCIMUser{UserID: users[2].ID, Client: "c", ExternalID: "x3", Attributes: []byte(`{}`)})
		if us, _, err = tx.ListSCIMUsers("c", 0, 0); err != nil {
			return err
		}
		equal(t, "ListSCIMUsers all", len(us), 3)
		ids, err := tx.SCIMUserIDsByExternalID("c", "x1")
		if err != nil {
			return err
		}
		equal(t, "SCIMUserIDsByExternalID", ids, []int64{users[0].ID})
		folded, err := tx.UsersByLoginFold("ANN")
		if err != nil {
			return err
		}
		equal(t, "UsersByLoginFold", folded, users[:1])
		// Another client sees none of them.
		if n, err = tx.CountSCIMUsers("other"); err != nil {
			return err
		}
		if us, _, err = tx.ListSCIMUsers("other", 0, 0); err != nil {
			return err
		}
		if ids, err = tx.SCIMUserIDsByExternalID("other", "x1"); err != nil {
			return err
		}
		equal(t, "another client's users", [3]int{n, len(us), len(ids)}, [3]int{})
		d, err := tx.UserByLogin("dee")
		if err != nil {
			return err
		}
		sd, err := tx.SCIMUser(d.ID)
		if err != nil {
			return err
		}
		equal(t, "SCIMUser deleted", sd.Deleted, true)
		return nil
	})

	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	g := &lanyard.SCIMGroup{ResourceID: "g-1", Client: "c", DisplayName: "Sales", ExternalID: "e1", CreatedAt: now, UpdatedAt: now}
	h := &lanyard.SCIMGroup{ResourceID: "g-2", Client: "c", DisplayName: "Staff", CreatedAt: now, UpdatedAt: now}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, x := range []*lanyard.SCIMGroup{g, h} {
			if err := tx.CreateSCIMGroup(x); err != nil {
				return err
			}
		}
		for _, m := range [][2]int64{{g.ID, users[0].ID}, {g.ID, users[1].ID}, {g.ID, users[0].ID}, {h.ID, users[0].ID}} {
			if err := tx.AddSCIMGroupMember(m[0], m[1]); err != nil {
				return err
			}
		}
		return tx.RemoveSCIMGroupMember(g.ID, users[1].ID)
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateSCIMGroup(&lanyard.SCIMGroup{ResourceID: "g-3", DisplayName: "SALES", CreatedAt: now, UpdatedAt: now})
	})
	wantCode(t, "CreateSCIMGroup same name other case", err, lanyard.EConflict)
	g.DisplayName, g.UpdatedAt = "Sales EU", now.Add(time.Minute)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateSCIMGroup(g) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.SCIMGroupByResourceID("g-1")
		if err != nil {
			return err
		}
		equal(t, "SCIMGroupByResourceID", got, g)
		if got, err = tx.SCIMGroupByName("sales eu"); err != nil {
			return err
		}
		equal(t, "SCIMGroupByName", got, g)
		all, err := tx.ListSCIMGroups("c")
		if err != nil {
			return err
		}
		equal(t, "ListSCIMGroups", all, []*lanyard.SCIMGroup{g, h})
		if all, err = tx.ListSCIMGroups("other"); err != nil {
			return err
		}
		equal(t, "another client's groups", len(all), 0)
		mem, err := tx.SCIMGroupMembers(g.ID)
		if err != nil {
			return err
		}
		equal(t, "SCIMGroupMembers", mem, []*lanyard.User{users[0]})
		of, err := tx.SCIMGroupsOfUser(users[0].ID)
		if err != nil {
			return err
		}
		equal(t, "SCIMGroupsOfUser", of, []*lanyard.SCIMGroup{g, h})
		return nil
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteSCIMGroup(g.ID) })
	MustView(t, s, func(tx lanyard.Tx) error {
		_, err := tx.SCIMGroupByResourceID("g-1")
		wantCode(t, "deleted group", err, lanyard.ENotFound)
		of, err := tx.SCIMGroupsOfUser(users[0].ID)
		if err != nil {
			return err
		}
		equal(t, "SCIMGroupsOfUser after delete", of, []*lanyard.SCIMGroup{h})
		return nil
	})
}
