package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testTokens(t *testing.T, s lanyard.Store) {
	alice, bob := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "bob")
	full := &lanyard.APIToken{
		UserID: alice.ID, Name: "ci", Prefix: "lyd_abc", Hash: []byte{0x01, 0x00, 0xff, 0x10},
		Roles: lanyard.Roles{lanyard.RoleOperator}, ExpiresAt: at(30 * 24 * time.Hour), CreatedAt: t0, LastUsedAt: at(time.Minute),
	}
	bare := &lanyard.APIToken{UserID: alice.ID, Name: "bare", Hash: []byte("bare"), CreatedAt: t0} // nil Roles, no expiry
	other := &lanyard.APIToken{UserID: bob.ID, Name: "bob", Hash: []byte("bob"), Roles: lanyard.Roles{}, CreatedAt: t0, Revoked: true}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, k := range []*lanyard.APIToken{full, bare, other} {
			if err := tx.CreateToken(k); err != nil {
				return err
			}
		}
		return nil
	})
	tokenID := func(k *lanyard.APIToken) int64 { return k.ID }

	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.APIToken{full, bare, other} {
			got, err := tx.TokenByHash(want.Hash)
			if err != nil {
				return err
			}
			equal(t, "TokenByHash "+want.Name, got, want)
			got, err = tx.TokenByID(want.ID)
			if err != nil {
				return err
			}
			equal(t, "TokenByID "+want.Name, got, want)
		}
		if got, _ := tx.TokenByID(bare.ID); got != nil && (got.Roles == nil || !got.ExpiresAt.IsZero()) {
			t.Errorf("bare token: Roles %s, ExpiresAt %s; want empty roles and the zero time", show(got.Roles), show(got.ExpiresAt))
		}
		_, err := tx.TokenByHash([]byte("unknown"))
		wantCode(t, "TokenByHash unknown", err, lanyard.ENotFound)
		_, err = tx.TokenByID(999_999)
		wantCode(t, "TokenByID unknown", err, lanyard.ENotFound)

		list, err := tx.ListTokens(alice.ID)
		if err != nil {
			return err
		}
		wantIDs(t, "ListTokens(alice)", list, tokenID, full.ID, bare.ID)
		list, err = tx.ListTokens(0)
		if err != nil {
			return err
		}
		wantIDs(t, "ListTokens(0)", list, tokenID, full.ID, bare.ID, other.ID)
		list, err = tx.ListTokens(999_999)
		if err != nil {
			return err
		}
		wantIDs(t, "ListTokens(unknown user)", list, tokenID)
		return nil
	})

	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateToken(&lanyard.APIToken{UserID: bob.ID, Name: "dup", Hash: full.Hash, CreatedAt: t0})
	})
	wantCode(t, "CreateToken duplicate hash", err, lanyard.EConflict)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateToken(&lanyard.APIToken{UserID: 999_999, Name: "orphan", Hash: []byte("orphan"), CreatedAt: t0})
	})
	wantCode(t, "CreateToken for a missing user", err, lanyard.EInvalid)

	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.RevokeToken(full.ID); err != nil {
			return err
		}
		return tx.TouchToken(bare.ID, at(time.Hour+time.Nanosecond))
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.TokenByID(full.ID)
		if err != nil {
			return err
		}
		want := *full
		want.Revoked = true
		equal(t, "revoked token", got, &want)
		got, err = tx.TokenByID(bare.ID)
		if err != nil {
			return err
		}
		wantTime(t, "LastUsedAt after TouchToken", got.LastUsedAt, at(time.Hour+time.Nanosecond))
		return nil
	})
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.RevokeToken(999_999) })
	wantCode(t, "RevokeToken missing", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.TouchToken(999_999, t0) })
	wantCode(t, "TouchToken missing", err, lanyard.ENotFound)
}
