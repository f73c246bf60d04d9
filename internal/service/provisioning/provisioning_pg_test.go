//go:build integration

package provisioning_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

func TestProvisioningPostgres(t *testing.T) {
	runAll(t, func() servicetest.Options {
		st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		return servicetest.Options{Store: st}
	})
}
