//go:build integration

package archive_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// pgEnv is newRecoverEnv on a fresh PostgreSQL schema.
func pgEnv(t *testing.T) *recoverEnv {
	t.Helper()
	st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newRecoverEnvOn(t, lanyard.Store(st))
}

// The owner's recovery and dual control on PostgreSQL.
func TestRecoverOwnKeyPostgres(t *testing.T)               { recoverOwn(t, pgEnv(t)) }
func TestRecoveryDualControlPostgres(t *testing.T)         { dualControl(t, pgEnv(t)) }
func TestRecoveryDualControlRefusalsPostgres(t *testing.T) { dualControlRefusals(t, pgEnv(t)) }
