package storetest

import (
	"strings"
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

// clipFixture makes tokens for ClipTokenLifetimes and the migration that
// caps tokens: a year-long one, one of exactly 90 days, a short one and a
// revoked year-long one. The returned map holds each one's expiry once
// lifetimes are clipped to 90 days.
func clipFixture(t *testing.T, s lanyard.Store) map[*lanyard.APIToken]time.Time {
	t.Helper()
	u := MustCreateUser(t, s, "clip")
	const days90 = 90 * 24 * time.Hour
	mk := func(name string, created, ttl time.Duration, revoked bool) *lanyard.APIToken {
		return &lanyard.APIToken{UserID: u.ID, Name: name, Hash: []byte("clip-" + name), Roles: lanyard.Roles{},
			CreatedAt: at(created), ExpiresAt: at(created + ttl), Revoked: revoked}
	}
	year, exact, short, revoked := mk("year", time.Hour, 365*24*time.Hour, false), mk("exact", 0, days90, false),
		mk("short", 2*time.Hour, time.Hour, false), mk("revoked", 0, 365*24*time.Hour, true)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, k := range []*lanyard.APIToken{year, exact, short, revoked} {
			if err := tx.CreateToken(k); err != nil {
				return err
			}
		}
		return nil
	})
	return map[*lanyard.APIToken]time.Time{year: at(time.Hour + days90), exact: at(days90), short: at(3 * time.Hour), revoked: at(days90)}
}

// wantExpiries checks each token's expiry.
func wantExpiries(t *testing.T, s lanyard.Store, want map[*lanyard.APIToken]time.Time) {
	t.Helper()
	MustView(t, s, func(tx lanyard.Tx) error {
		for k, exp := range want {
			got, err := tx.TokenByID(k.ID)
			if err != nil {
				return err
			}
			wantTime(t, k.Name+" expires", got.ExpiresAt, exp)
			if got.Revoked != k.Revoked || !got.CreatedAt.Equal(k.CreatedAt) {
				t.Errorf("%s: revoked %v created %v; only the expiry may change", k.Name, got.Revoked, got.CreatedAt)
			}
		}
		return nil
	})
}

// testClipTokenLifetimes: lowering the token policy's longest lifetime
// shortens the tokens that live longer (issue 13), measured from when each
// was made; shorter ones keep their expiry.
func testClipTokenLifetimes(t *testing.T, s lanyard.Store) {
	want := clipFixture(t, s)
	var n int
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.ClipTokenLifetimes(90 * 24 * time.Hour); return })
	if n != 2 {
		t.Errorf("ClipTokenLifetimes = %d, want the 2 year-long tokens", n)
	}
	wantExpiries(t, s, want)
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { n, err = tx.ClipTokenLifetimes(90 * 24 * time.Hour); return })
	if n != 0 {
		t.Errorf("second ClipTokenLifetimes = %d, want 0", n)
	}
}

// TokenClipMigration checks the statement of the staff second-factor
// migration (0011) that caps the tokens made before it at 90 days:
// runStatement runs sql (that statement, taken from engine's migration)
// on s's database.
func TokenClipMigration(t *testing.T, engine string, s lanyard.Store, runStatement func(sql string)) {
	t.Helper()
	want := clipFixture(t, s)
	all := MigrationSQL(t, engine, "_staff_mfa.sql")
	i := strings.Index(all, "UPDATE api_tokens")
	if i < 0 {
		t.Fatalf("%s: the staff second-factor migration does not cap tokens", engine)
	}
	stmt, _, _ := strings.Cut(all[i:], ";")
	runStatement(stmt)
	wantExpiries(t, s, want)
}
