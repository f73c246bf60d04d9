//go:build integration

package jobs_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// postgresOpener gives each runner a store of its own on one schema:
// two replicas' connection pools on one database.
func postgresOpener(t *testing.T) opener {
	url := pgtest.FreshSchema(t)
	return func(t *testing.T) lanyard.Store {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
}

func TestJobsPostgres(t *testing.T) { runJobTests(t, postgresOpener) }
