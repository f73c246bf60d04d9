//go:build integration

package service_test

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// replicas starts two services on one PostgreSQL schema with one master
// key, as two lanyard serve processes of a cluster. Their clocks stand
// still, so no read cache ever expires: what a replica stops serving, a
// change notice purged.
func replicas(t *testing.T, optsB servicetest.Options) (a, b *servicetest.Stack) {
	t.Helper()
	u := pgtest.FreshSchema(t)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	frozen := time.Now()
	now := func() time.Time { return frozen }
	open := func() lanyard.Store {
		st, err := postgres.Open(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a = servicetest.New(t, servicetest.Options{Store: open(), Key: key, Now: now})
	optsB.Store, optsB.Key, optsB.Now = open(), key, now
	b = servicetest.New(t, optsB)
	return a, b
}

// within polls cond for at most d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A user disabled on one replica cannot use their API token on another
// at once, although that replica had the token's principal cached; the
// same for a revoked token.
func TestUserDisabledOnEveryReplica(t *testing.T) {
	a, b := replicas(t, servicetest.Options{})
	ctx := t.Context()
	for _, login := range []string{"leaver", "holder"} {
		if _, err := a.Service.Identity.CreateUser(ctx, a.Admin, identity.UserInput{Login: login, Roles: &lanyard.Roles{lanyard.RoleUser}}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := a.Service.Identity.CreateToken(ctx, a.Admin, identity.TokenInput{User: "leaver", TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	held, err := a.Service.Identity.CreateToken(ctx, a.Admin, identity.TokenInput{User: "holder", TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{tok.Secret, held.Secret} {
		if _, err := b.Service.Identity.AuthenticateToken(ctx, secret, "192.0.2.1"); err != nil {
			t.Fatalf("before: %v", err) // and now cached on b
		}
	}
	disabled := true
	if _, err := a.Service.Identity.UpdateUser(ctx, a.Admin, "leaver", identity.UserInput{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "b refuses the disabled user's token", func() bool {
		_, err := b.Service.Identity.AuthenticateToken(ctx, tok.Secret, "192.0.2.1")
		return lanyard.IsCode(err, lanyard.EUnauthenticated)
	})
	if err := a.Service.Identity.RevokeToken(ctx, a.Admin, held.Token.ID); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "b refuses the revoked token", func() bool {
		_, err := b.Service.Identity.AuthenticateToken(ctx, held.Secret, "192.0.2.1")
		return lanyard.IsCode(err, lanyard.EUnauthenticated)
	})
}

// A template changed on one replica is purged from another's read cache.
func TestTemplateCachePurgedOnEveryReplica(t *testing.T) {
	a, b := replicas(t, servicetest.Options{})
	ctx := t.Context()
	tpls, err := b.Service.Catalog.ListTemplates(ctx)
	if err != nil || len(tpls) == 0 {
		t.Fatalf("templates: %v, %v", tpls, err)
	}
	name := tpls[0].Name
	if err := b.Store.View(ctx, func(tx lanyard.Tx) error { _, err := b.Service.Catalog.Template(tx, name); return err }); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Service.Catalog.CachedTemplate(name); !ok {
		t.Fatal("the template is not cached on b")
	}
	tpl := *tpls[0]
	tpl.RequiresCAApproval = !tpl.RequiresCAApproval
	if _, err := a.Service.Catalog.UpdateTemplate(ctx, a.Admin, name, tpl); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "b's cached template purged", func() bool {
		_, ok := b.Service.Catalog.CachedTemplate(name)
		return !ok
	})
}

// A change of the AirCards workstations may use, committed on one
// replica, reaches the card access of every replica (whose hub pushes
// the lists to the agents connected there).
func TestAirCardNoticeReachesEveryReplica(t *testing.T) {
	access := cardtest.New()
	a, _ := replicas(t, servicetest.Options{Cards: access}) // b's card access
	access.Changed()                                        // whatever setup did
	if err := a.Store.Update(t.Context(), func(tx lanyard.Tx) error {
		return lanyard.NotifyIDs(tx, lanyard.NoticeAirCards, 5, 6)
	}); err != nil {
		t.Fatal(err)
	}
	var got []int64
	within(t, time.Second, "b's card access told", func() bool {
		got = append(got, access.Changed()...)
		return len(got) >= 2
	})
	if !slices.Equal(got, []int64{5, 6}) {
		t.Fatalf("b's card access was told %v, want [5 6]", got)
	}
}
