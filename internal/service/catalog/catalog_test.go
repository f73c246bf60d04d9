package catalog_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/internal/ttlcache"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// env is the catalog of a test stack that has not run Setup (no default
// card types, templates or policy), on a clock the test moves.
type env struct {
	cat   *catalog.Catalog
	store lanyard.Store
	clock *servicetest.Clock
	admin *lanyard.Principal
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	stack := servicetest.New(t, servicetest.Options{Now: clock.Now, NoSetup: true})
	return &env{cat: stack.Service.Catalog, store: stack.Store, clock: clock,
		admin: &lanyard.Principal{User: storetest.MustCreateUser(t, stack.Store, "root"), Roles: lanyard.Roles{lanyard.RoleAdministrator}}}
}

// cardType is a PIV card type as an administrator sends it: no secrets.
func cardType(name string) lanyard.CardType {
	c := *storetest.NewCardType(name)
	c.SealedSecrets, c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK = nil, false, false, false
	return c
}

// TestCardTypeSecrets checks that a card type's default secrets are
// stored sealed, open again, survive an update that does not name them,
// and that "" clears one.
func TestCardTypeSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := "0102030405060708090a0b0c0d0e0f101112131415161718"
	pin, puk := "424242", "87654321"
	c, err := e.cat.CreateCardType(ctx, e.admin, catalog.CardTypeInput{CardType: cardType("office"), DefaultAdminKeyHex: &key, DefaultUserPIN: &pin, DefaultPUK: &puk})
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasDefaultAdminKey || !c.HasDefaultUserPIN || !c.HasDefaultPUK {
		t.Fatalf("flags = %v %v %v, want all set", c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK)
	}
	stored, err := e.cat.GetCardType(ctx, "office")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.SealedSecrets, []byte(puk)) || bytes.Contains(stored.SealedSecrets, []byte(pin)) {
		t.Fatal("the stored card type holds a secret in clear")
	}
	sec, err := e.cat.CardTypeSecrets(stored)
	if err != nil {
		t.Fatal(err)
	}
	if sec.UserPIN != pin || sec.PUK != puk || len(sec.AdminKey) != 24 {
		t.Fatalf("secrets = %q %q %x", sec.UserPIN, sec.PUK, sec.AdminKey)
	}
	empty := ""
	up := cardType("office")
	up.Description = "changed"
	if _, err := e.cat.UpdateCardType(ctx, e.admin, "office", catalog.CardTypeInput{CardType: up, DefaultUserPIN: &empty}); err != nil {
		t.Fatal(err)
	}
	stored, _ = e.cat.GetCardType(ctx, "office")
	if sec, err = e.cat.CardTypeSecrets(stored); err != nil {
		t.Fatal(err)
	}
	if sec.UserPIN != "" || sec.PUK != puk || len(sec.AdminKey) != 24 || stored.HasDefaultUserPIN || !stored.HasDefaultPUK {
		t.Fatalf("after update: secrets %q %q %x, flags %v %v", sec.UserPIN, sec.PUK, sec.AdminKey, stored.HasDefaultUserPIN, stored.HasDefaultPUK)
	}
	if _, err := e.cat.UpdateCardType(ctx, e.admin, "office", catalog.CardTypeInput{CardType: cardType("renamed")}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("rename: err = %v, want EInvalid", err)
	}
}

// logonTemplate is the store's every-field smart card logon template
// without archive key, which a logon template may not have (issue 17).
func logonTemplate(name string) *lanyard.Template {
	t := storetest.NewTemplate(name)
	t.KeyArchival = false
	return t
}

// TestTemplateCA checks that a template without a CA gets the first
// configured one and that an unknown CA is refused.
func TestTemplateCA(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tpl := *logonTemplate("logon")
	tpl.CA, tpl.DisplayName = "", ""
	got, err := e.cat.CreateTemplate(ctx, e.admin, tpl)
	if err != nil {
		t.Fatal(err)
	}
	if got.CA != "builtin" || got.DisplayName != "logon" {
		t.Fatalf("CA %q, display name %q; want builtin, logon", got.CA, got.DisplayName)
	}
	tpl.Name, tpl.CA = "elsewhere", "nowhere"
	if _, err := e.cat.CreateTemplate(ctx, e.admin, tpl); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("unknown CA: err = %v, want EInvalid", err)
	}
}

// TestReadCaches checks the caches issuance reads through: a change made
// through the catalog is seen at once, one made by another replica (here:
// straight in the store) within ttlcache.ReadTTL.
func TestReadCaches(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.cat.CreateTemplate(ctx, e.admin, *logonTemplate("logon")); err != nil {
		t.Fatal(err)
	}
	pol := catalog.NewPolicyInput()
	pol.Name, pol.Assignments = "everyone", []lanyard.Assignment{{Kind: lanyard.AssignEveryone}}
	pol.Settings.Certificates.Required, pol.Settings.Certificates.Optional = []string{"logon"}, []string{}
	pol.Settings.AllowedCards = []string{}
	if _, err := e.cat.CreatePolicy(ctx, e.admin, pol); err != nil {
		t.Fatal(err)
	}
	read := func() (p *lanyard.Policy, tpl *lanyard.Template) {
		t.Helper()
		storetest.MustView(t, e.store, func(tx lanyard.Tx) (err error) {
			if p, err = e.cat.PolicyFor(tx, e.admin.User); err != nil {
				return err
			}
			tpl, err = e.cat.Template(tx, "logon")
			return err
		})
		return p, tpl
	}
	if p, tpl := read(); p.Priority != 100 || tpl.ValidityDays != 365 {
		t.Fatalf("priority %d, validity %d", p.Priority, tpl.ValidityDays)
	}
	if _, ok := e.cat.CachedTemplate("logon"); !ok {
		t.Fatal("a template read is not cached")
	}
	pol.Priority = 50
	if _, err := e.cat.UpdatePolicy(ctx, e.admin, "everyone", pol); err != nil {
		t.Fatal(err)
	}
	if p, _ := read(); p.Priority != 50 {
		t.Fatalf("after UpdatePolicy: priority %d, want 50 at once", p.Priority)
	}
	storetest.MustUpdate(t, e.store, func(tx lanyard.Tx) error {
		tpl, err := tx.TemplateByName("logon")
		if err != nil {
			return err
		}
		tpl.ValidityDays = 30
		return tx.UpdateTemplate(tpl)
	})
	if _, tpl := read(); tpl.ValidityDays != 365 {
		t.Fatalf("validity %d within the TTL, want the cached 365", tpl.ValidityDays)
	}
	e.clock.Add(ttlcache.ReadTTL)
	if _, tpl := read(); tpl.ValidityDays != 30 {
		t.Fatalf("validity %d after the TTL, want 30", tpl.ValidityDays)
	}
	if err := e.cat.DeleteTemplate(ctx, e.admin, "logon"); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("deleting a template a policy uses: err = %v, want EConflict", err)
	}
	if err := e.cat.DeletePolicy(ctx, e.admin, "everyone"); err != nil {
		t.Fatal(err)
	}
	storetest.MustView(t, e.store, func(tx lanyard.Tx) error {
		if _, err := e.cat.PolicyFor(tx, e.admin.User); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Fatalf("after DeletePolicy: err = %v, want ENotFound at once", err)
		}
		return nil
	})
}

// TestFeatures checks that the switches start off, that only
// administrators change them, and that ReadFeatures sees the change.
func TestFeatures(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if f, err := e.cat.Features(ctx); err != nil || f != (lanyard.Features{}) {
		t.Fatalf("Features() = %+v, %v; want all off", f, err)
	}
	op := &lanyard.Principal{User: e.admin.User, Roles: lanyard.Roles{lanyard.RoleOperator}}
	if _, err := e.cat.PutFeatures(ctx, op, lanyard.Features{TPMVirtualCard: true}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("operator: err = %v, want EForbidden", err)
	}
	if _, err := e.cat.PutFeatures(ctx, e.admin, lanyard.Features{TPMVirtualCard: true}); err != nil {
		t.Fatal(err)
	}
	storetest.MustView(t, e.store, func(tx lanyard.Tx) error {
		f, err := e.cat.ReadFeatures(tx)
		if err != nil || !f.TPMVirtualCard || f.PlatformCredential {
			t.Fatalf("ReadFeatures = %+v, %v", f, err)
		}
		return nil
	})
}

// TestFeaturesStoredFormat: the feature switches are kept in the settings
// table with the snake_case names databases already hold;
// lanyard.Features carries no json tags since the wire types moved to
// internal/apiv1, so the stored record has its own.
func TestFeaturesStoredFormat(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.cat.PutFeatures(ctx, e.admin, lanyard.Features{TPMVirtualCard: true}); err != nil {
		t.Fatal(err)
	}
	var b []byte
	if err := e.store.View(ctx, func(tx lanyard.Tx) (err error) { b, err = tx.Setting("features"); return }); err != nil {
		t.Fatal(err)
	}
	if want := `{"tpm_virtual_card":true,"platform_credential":false}`; string(b) != want {
		t.Errorf("stored features %s, want %s", b, want)
	}
	if f, err := e.cat.Features(ctx); err != nil || !f.TPMVirtualCard || f.PlatformCredential {
		t.Errorf("read back %+v, %v", f, err)
	}
}
