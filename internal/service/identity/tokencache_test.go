package identity_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// A change to one user — their token revoked, their account changed, a
// user notice naming them from another replica — drops only that user's
// cached tokens: someone revoking their own tokens in a loop does not
// empty the token cache of every replica.
func TestTokenCachePurgedPerUser(t *testing.T) {
	frozen := time.Now()
	s := servicetest.New(t, servicetest.Options{Now: func() time.Time { return frozen }})
	ctx := t.Context()
	ids := map[string]int64{}
	secrets := map[string]string{}
	tokens := map[string]int64{}
	for _, login := range []string{"alice", "bob"} {
		u, err := s.Service.Identity.CreateUser(ctx, s.Admin, identity.UserInput{Login: login, Roles: &lanyard.Roles{lanyard.RoleUser}})
		if err != nil {
			t.Fatal(err)
		}
		ids[login] = u.ID
		for _, n := range []string{"1", "2"} {
			tok, err := s.Service.Identity.CreateToken(ctx, s.Admin, identity.TokenInput{User: login, Name: n, TTL: "1h"})
			if err != nil {
				t.Fatal(err)
			}
			secrets[login+n], tokens[login+n] = tok.Secret, tok.Token.ID
		}
	}
	id := s.Service.Identity
	auth := func(key string) error { _, err := id.AuthenticateToken(ctx, secrets[key], "192.0.2.1"); return err }
	cacheAll := func() {
		t.Helper()
		for k := range secrets {
			if err := auth(k); err != nil && k != "bob1" {
				t.Fatalf("%s: %v", k, err)
			}
		}
	}
	settle := func() { time.Sleep(50 * time.Millisecond) } // the notice's delivery
	cacheAll()
	if err := id.RevokeToken(ctx, s.Admin, tokens["bob1"]); err != nil {
		t.Fatal(err)
	}
	settle()
	if !id.TokenCached(secrets["alice1"]) || !id.TokenCached(secrets["alice2"]) {
		t.Fatal("revoking bob's token purged alice's cached tokens")
	}
	if id.TokenCached(secrets["bob2"]) || auth("bob1") == nil {
		t.Fatal("bob's cached tokens survived the revocation")
	}

	cacheAll()
	if err := s.Store.Update(ctx, func(tx lanyard.Tx) error {
		return tx.Notify(lanyard.NoticeUser, strconv.FormatInt(ids["bob"], 10))
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for id.TokenCached(secrets["bob2"]) {
		if time.Now().After(deadline) {
			t.Fatal("a user notice left bob's token cached")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !id.TokenCached(secrets["alice1"]) {
		t.Fatal("a user notice about bob purged alice's cached tokens")
	}

	cacheAll()
	disabled := true
	if _, err := id.UpdateUser(ctx, s.Admin, "bob", identity.UserInput{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	settle()
	if !id.TokenCached(secrets["alice1"]) {
		t.Fatal("disabling bob purged alice's cached tokens")
	}
	if auth("bob2") == nil {
		t.Fatal("disabled bob's cached token still works")
	}
}
