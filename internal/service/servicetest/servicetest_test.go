package servicetest_test

import (
	"context"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// A stack started again on the Dir and Key of a closed one is a restart:
// the same CA, no new bootstrap token, the same administrator; the
// service is given the wrapped store, Stack.Store stays the real one.
func TestRestartOnSameDirAndKey(t *testing.T) {
	ctx := context.Background()
	first := servicetest.New(t, servicetest.Options{})
	if first.Token == "" || first.Admin == nil || first.Admin.User.Login != service.BootstrapLogin {
		t.Fatalf("first start: token %q, admin %+v", first.Token, first.Admin)
	}
	chain, err := first.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	first.Close() // idempotent: the test's cleanup closes it again

	var wrapped lanyard.Store
	again := servicetest.New(t, servicetest.Options{Dir: first.Dir, Key: first.Key,
		WrapStore: func(st lanyard.Store) lanyard.Store { wrapped = st; return st }})
	if again.Token != "" || again.Admin == nil || again.Admin.User.ID != first.Admin.User.ID {
		t.Fatalf("restart: token %q, admin %+v", again.Token, again.Admin)
	}
	chain2, err := again.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !chain2[0].Equal(chain[0]) {
		t.Fatal("the restart made a new CA")
	}
	if wrapped == nil || wrapped != again.Store {
		t.Fatalf("WrapStore got %v, the stack's store is %v", wrapped, again.Store)
	}
	if _, err := again.Service.Identity.AuthenticateToken(ctx, first.Token, ""); err != nil {
		t.Fatalf("the first start's token after the restart: %v", err)
	}
}
