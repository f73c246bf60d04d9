package storetest

import (
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// testArchivedKeys pins down the archived keys: read back as written,
// several per owner and template listed newest first (the order recovery
// fills the current and retired slots), other owners and templates apart;
// an update writes serial, KRA version, sealed key and state; a bad state
// or version and a missing owner or card are refused.
func testArchivedKeys(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	bob := MustCreateUser(t, s, "bob")
	var card *lanyard.Card
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		card = NewCard("a001", alice.ID)
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		for v := 1; v <= 2; v++ {
			if err := tx.CreateKRAKey(&lanyard.KRAKey{Version: v, SealedKey: []byte{byte(v)}, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	key := func(owner int64, tpl string, at int) *lanyard.ArchivedKey {
		return &lanyard.ArchivedKey{OwnerID: owner, CardID: card.ID, Template: tpl, Algorithm: lanyard.RSA2048,
			PublicKey: []byte{0x30, byte(at)}, KRAVersion: 1, SealedKey: []byte{1, 2, byte(at)}, State: lanyard.ArchivedKeyPending,
			CreatedAt: t0.Add(time.Duration(at)), UpdatedAt: t0.Add(time.Duration(at))}
	}
	old, cur, other, bobs := key(alice.ID, "enc", 1), key(alice.ID, "enc", 2), key(alice.ID, "enc2", 3), key(bob.ID, "enc", 4)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, k := range []*lanyard.ArchivedKey{old, cur, other, bobs} {
			if err := tx.CreateArchivedKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	if old.ID == 0 || cur.ID == old.ID {
		t.Fatalf("IDs %d, %d", old.ID, cur.ID)
	}
	old.CertificateSerial, old.KRAVersion, old.SealedKey, old.State, old.UpdatedAt = "0a1b", 2, []byte{9, 9}, lanyard.ArchivedKeyActive, t0.Add(10)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateArchivedKey(old) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.ArchivedKeyByID(old.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, old) {
			t.Errorf("archived key: %+v, want %+v", got, old)
		}
		list, err := tx.ArchivedKeysOf(alice.ID, "enc")
		if err != nil {
			return err
		}
		if len(list) != 2 || !reflect.DeepEqual(list[0], cur) || !reflect.DeepEqual(list[1], old) {
			t.Errorf("alice's enc keys: %d, want the newer then the older", len(list))
		}
		all, err := tx.ArchivedKeysOf(alice.ID, "")
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].ID != other.ID || all[1].ID != cur.ID || all[2].ID != old.ID {
			t.Errorf("alice's keys of every template: %d, want enc2 then enc newest first, not bob's", len(all))
		}
		if list, err := tx.ArchivedKeysOf(bob.ID, "enc2"); err != nil || len(list) != 0 {
			t.Errorf("bob's enc2 keys: %d, %v; want none", len(list), err)
		}
		if _, err := tx.ArchivedKeyByID(old.ID + 100); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("missing archived key: %v, want not found", err)
		}
		for v, want := range map[int]int{1: 3, 2: 1, 3: 0} {
			if n, err := tx.CountArchivedKeysUnder(v); err != nil || n != want {
				t.Errorf("keys under KRA version %d: %d, %v; want %d", v, n, err, want)
			}
		}
		return nil
	})
	bad := map[string]struct {
		k    *lanyard.ArchivedKey
		code string
	}{
		"unknown state":   {&lanyard.ArchivedKey{OwnerID: alice.ID, CardID: card.ID, KRAVersion: 1, State: "lost"}, lanyard.EInvalid},
		"no KRA version":  {&lanyard.ArchivedKey{OwnerID: alice.ID, CardID: card.ID, State: lanyard.ArchivedKeyPending}, lanyard.EInvalid},
		"missing owner":   {&lanyard.ArchivedKey{OwnerID: bob.ID + 100, CardID: card.ID, KRAVersion: 1, State: lanyard.ArchivedKeyPending}, lanyard.EInvalid},
		"missing card":    {&lanyard.ArchivedKey{OwnerID: alice.ID, CardID: card.ID + 100, KRAVersion: 1, State: lanyard.ArchivedKeyPending}, lanyard.EInvalid},
		"missing KRA key": {&lanyard.ArchivedKey{OwnerID: alice.ID, CardID: card.ID, KRAVersion: 3, State: lanyard.ArchivedKeyPending}, lanyard.EInvalid},
		"update missing":  {&lanyard.ArchivedKey{ID: bobs.ID + 100, KRAVersion: 1, State: lanyard.ArchivedKeyActive}, lanyard.ENotFound},
		"update to state": {&lanyard.ArchivedKey{ID: bobs.ID, KRAVersion: 1, State: ""}, lanyard.EInvalid},
	}
	for name, b := range bad {
		err := s.Update(t.Context(), func(tx lanyard.Tx) error {
			if b.k.ID != 0 {
				return tx.UpdateArchivedKey(b.k)
			}
			return tx.CreateArchivedKey(b.k)
		})
		if !lanyard.IsCode(err, b.code) {
			t.Errorf("%s: %v, want %s", name, err, b.code)
		}
	}
}

// testKRAKeys pins down the KRA key versions: none at first, each read
// back as written, the highest current, and a version inserted twice (two
// racing rotations) a conflict that keeps the first key.
func testKRAKeys(t *testing.T, s lanyard.Store) {
	MustView(t, s, func(tx lanyard.Tx) error {
		if _, err := tx.CurrentKRAKey(); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("current KRA key of an empty store: %v, want not found", err)
		}
		return nil
	})
	v1 := &lanyard.KRAKey{Version: 1, SealedKey: []byte("one"), CreatedAt: t0}
	v2 := &lanyard.KRAKey{Version: 2, SealedKey: []byte("two"), CreatedAt: t0.Add(time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateKRAKey(v1) })
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateKRAKey(v2) })
	again := &lanyard.KRAKey{Version: 2, SealedKey: []byte("other"), CreatedAt: t0}
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateKRAKey(again) }); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("version 2 again: %v, want a conflict", err)
	}
	if err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateKRAKey(&lanyard.KRAKey{SealedKey: []byte("x")}) }); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("version 0: %v, want invalid", err)
	}
	MustView(t, s, func(tx lanyard.Tx) error {
		cur, err := tx.CurrentKRAKey()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(cur, v2) {
			t.Errorf("current KRA key: %+v, want %+v", cur, v2)
		}
		got, err := tx.KRAKey(1)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, v1) {
			t.Errorf("KRA key 1: %+v, want %+v", got, v1)
		}
		if _, err := tx.KRAKey(3); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Errorf("KRA key 3: %v, want not found", err)
		}
		return nil
	})
}

// MigrateKeyArchival checks migration 0026_key_archival on templates saved
// before it: archive key stays on an encryption template and is turned off
// on a logon, signing, client authentication or usage-less one; a
// template without it is untouched.
func MigrateKeyArchival(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0026_key_archival.sql")
	want := map[string]bool{}
	add := func(name, ku, eku string, archival, kept bool) {
		exec(`INSERT INTO templates (name, ca, validity_days, key_usage, ext_key_usage, key_archival, created_at, updated_at) VALUES (?, 'builtin', 365, ?, ?, ?, 0, 0)`,
			name, ku, eku, archival)
		want[name] = kept
	}
	add("encryption", `["key_encipherment"]`, `["email_protection"]`, true, true)
	add("agreement", `["key_agreement"]`, `[]`, true, true)
	add("logon", `["digital_signature","key_encipherment"]`, `["smartcard_logon","client_auth"]`, true, false)
	add("signing", `["key_encipherment","content_commitment"]`, `["email_protection"]`, true, false)
	add("client", `["key_encipherment"]`, `["client_auth"]`, true, false)
	add("plain", `["key_encipherment"]`, `["email_protection"]`, false, false)
	s := open()
	MustView(t, s, func(tx lanyard.Tx) error {
		for name, kept := range want {
			tp, err := tx.TemplateByName(name)
			if err != nil {
				return err
			}
			if tp.KeyArchival != kept {
				t.Errorf("template %s after the migration: archive key %v, want %v", name, tp.KeyArchival, kept)
			}
		}
		return nil
	})
}

// MigrateRenewalKey checks migration 0028_renewal_key: a template saved
// before it renews with a new key (lanyard.RenewalNewKey).
func MigrateRenewalKey(t *testing.T, engine string, raw *sql.DB, rebind func(string) string, open func() lanyard.Store) {
	t.Helper()
	exec := migrateUpTo(t, engine, raw, rebind, "0028_renewal_key.sql")
	exec(`INSERT INTO templates (name, ca, validity_days, key_usage, ext_key_usage, created_at, updated_at) VALUES ('old', 'builtin', 365, '["digital_signature"]', '[]', 0, 0)`)
	MustView(t, open(), func(tx lanyard.Tx) error {
		tp, err := tx.TemplateByName("old")
		if err != nil {
			return err
		}
		if tp.RenewalKey != lanyard.RenewalNewKey {
			t.Errorf("template saved before migration 0028: renewal key %q, want %q", tp.RenewalKey, lanyard.RenewalNewKey)
		}
		return nil
	})
}
