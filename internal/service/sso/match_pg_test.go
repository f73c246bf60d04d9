//go:build integration

package sso_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// TestMatchPostgres: the matching on PostgreSQL, whose lower() folds
// Unicode under UTF-8 (the Kelvin sign to k).
func TestMatchPostgres(t *testing.T) {
	runMatch(t, func(t *testing.T) *servicetest.Stack {
		st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		return servicetest.New(t, servicetest.Options{Store: st})
	})
}
