//go:build integration

package identity_test

import (
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// TestLoginThrottleAcrossReplicasPostgres: two services on one
// PostgreSQL schema with one master key, as two replicas of a cluster,
// share the login throttle: parallel wrong passwords for one account
// sent to both get exactly five checks in all (auth.DefaultLimits), the
// rest are refused unchecked, and the lock holds on both.
func TestLoginThrottleAcrossReplicasPostgres(t *testing.T) {
	url := pgtest.FreshSchema(t)
	open := func() lanyard.Store {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a := newTOTPEnvWith(t, servicetest.Options{Store: open()})
	b := servicetest.New(t, servicetest.Options{Store: open(), Key: a.key, NoSetup: true, Now: a.clock.Now}).Service
	replicas := []*identity.Identity{a.svc.Identity, b.Identity}

	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Go(func() {
			_, err := replicas[i%2].Login(t.Context(), "alice", "not the password", "192.0.2.50")
			mu.Lock()
			defer mu.Unlock()
			codes[lanyard.ErrorCode(err)]++
		})
	}
	wg.Wait()
	if codes[lanyard.EUnauthenticated] != 5 || codes[lanyard.ERateLimited] != 19 {
		t.Fatalf("24 parallel wrong passwords on two replicas: %v; want 5 checked, 19 refused", codes)
	}
	for i, id := range replicas {
		if _, err := id.Login(t.Context(), "alice", totpPassword, "198.51.100.1"); !lanyard.IsCode(err, lanyard.ERateLimited) {
			t.Errorf("replica %d: the right password while the account is locked: %v", i, err)
		}
	}
}
