package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testDirectorySources: a directory source's settings read back as
// written (the sealed password byte for byte); names are unique; a
// settings update leaves the sync state alone and SetDirectorySync
// leaves the settings alone; DirectoryUsers lists exactly that source's
// accounts; delete removes the source and keeps its users.
func testDirectorySources(t *testing.T, s lanyard.Store) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 123456000, time.UTC)
	src := &lanyard.DirectorySource{Name: "corp", Kind: "ad", URL: "ldaps://dc.example.test", StartTLS: false, CAPEM: "-----BEGIN CERTIFICATE-----",
		BindDN: "CN=svc,DC=example,DC=test", SealedBindPassword: []byte{0, 1, 2, 0xff}, BaseDN: "DC=example,DC=test",
		UserFilter: "(objectClass=user)", GroupFilter: "(objectClass=group)", PageSize: 500, Mapping: `{"login":"sAMAccountName"}`,
		SyncInterval: 15 * time.Minute, LeaverAction: lanyard.LeaverRevoke, Enabled: true, CreatedAt: now, UpdatedAt: now}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateDirectorySource(src) })
	if src.ID == 0 {
		t.Fatal("CreateDirectorySource set no ID")
	}
	dup := *src
	dup.ID = 0
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateDirectorySource(&dup) })
	wantCode(t, "CreateDirectorySource duplicate name", err, lanyard.EConflict)

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DirectorySourceByID(src.ID)
		if err != nil {
			return err
		}
		equal(t, "DirectorySourceByID", got, src)
		if got, err = tx.DirectorySourceByName("corp"); err != nil {
			return err
		}
		equal(t, "DirectorySourceByName", got, src)
		_, err = tx.DirectorySourceByID(src.ID + 100)
		wantCode(t, "DirectorySourceByID missing", err, lanyard.ENotFound)
		_, err = tx.DirectorySourceByName("nope")
		wantCode(t, "DirectorySourceByName missing", err, lanyard.ENotFound)
		return nil
	})

	later := now.Add(time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		return tx.SetDirectorySyncError(src.ID, "the directory is unreachable", now)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DirectorySourceByID(src.ID)
		if err == nil && (got.LastError != "the directory is unreachable" || !got.LastErrorAt.Equal(now) || got.SyncState != "") {
			t.Errorf("after SetDirectorySyncError: %q %v state %q", got.LastError, got.LastErrorAt, got.SyncState)
		}
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.SetDirectorySync(src.ID, `{"usn":42}`, `{"created":1}`, later) })
	src.URL, src.SealedBindPassword, src.Enabled, src.LeaverAction, src.UpdatedAt = "ldap://dc2.example.test", nil, false, "", later
	src.StartTLS = true
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateDirectorySource(src) })
	other := &lanyard.DirectorySource{Name: "ldap", Kind: "openldap", URL: "ldap://x", BaseDN: "dc=x", CreatedAt: now, UpdatedAt: now}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateDirectorySource(other) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DirectorySourceByID(src.ID)
		if err != nil {
			return err
		}
		if got.SyncState != `{"usn":42}` || got.LastReport != `{"created":1}` || !got.LastSyncAt.Equal(later) || got.LastError != "" || !got.LastErrorAt.IsZero() {
			t.Errorf("sync state after a settings update = %q %q %v", got.SyncState, got.LastReport, got.LastSyncAt)
		}
		if got.URL != src.URL || !got.StartTLS || got.Enabled || got.LeaverAction != "" || len(got.SealedBindPassword) != 0 || bytes.Contains(got.SealedBindPassword, []byte{0xff}) {
			t.Errorf("settings after update = %+v", got)
		}
		list, err := tx.ListDirectorySources()
		if err != nil {
			return err
		}
		wantIDs(t, "ListDirectorySources", list, func(s *lanyard.DirectorySource) int64 { return s.ID }, src.ID, other.ID)
		return nil
	})
	clash := *other
	clash.Name = "corp"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateDirectorySource(&clash) })
	wantCode(t, "UpdateDirectorySource name clash", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetDirectorySync(999999, "", "", now) })
	wantCode(t, "SetDirectorySync missing", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.SetDirectorySyncError(999999, "x", now) })
	wantCode(t, "SetDirectorySyncError missing", err, lanyard.ENotFound)

	a, b, c, local := NewUser("a1"), NewUser("b1"), NewUser("c1"), NewUser("l1")
	a.Source, a.SourceID, a.ExternalID = lanyard.SourceLDAP, src.ID, "ext-a"
	b.Source, b.SourceID, b.ExternalID = lanyard.SourceLDAP, src.ID, "ext-b"
	c.Source, c.SourceID, c.ExternalID = lanyard.SourceLDAP, other.ID, "ext-a"
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, u := range []*lanyard.User{a, b, c, local} {
			if err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.DirectoryUsers(src.ID)
		equal(t, "DirectoryUsers", got, map[string]int64{"ext-a": a.ID, "ext-b": b.ID})
		return err
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.DeleteDirectorySource(src.ID) })
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.DeleteDirectorySource(src.ID) })
	wantCode(t, "DeleteDirectorySource twice", err, lanyard.ENotFound)
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.UserByID(a.ID)
		if err != nil || got.Source != lanyard.SourceLDAP || got.SourceID != -src.ID {
			t.Errorf("the user of a deleted source: %+v, %v (want source_id %d)", got, err, -src.ID)
		}
		if users, err := tx.DirectoryUsers(src.ID); err != nil || len(users) != 0 {
			t.Errorf("the deleted source still has users %v, %v", users, err)
		}
		if got, err := tx.UserByID(c.ID); err != nil || got.SourceID != other.ID {
			t.Errorf("another source's user: %+v, %v", got, err)
		}
		return nil
	})
}
