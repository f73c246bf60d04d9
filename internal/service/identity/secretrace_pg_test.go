//go:build integration

package identity_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// TestSecretAnswersParallelWrongPostgres is parallelWrongAnswers on
// PostgreSQL, where the parallel checks are parallel transactions.
func TestSecretAnswersParallelWrongPostgres(t *testing.T) {
	st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	parallelWrongAnswers(t, newTOTPEnvWith(t, servicetest.Options{Store: st}))
}

// TestSecretAnswersBusyGivenBackPostgres is busyGivenBack on PostgreSQL,
// where the count is given back by ReturnSecretFailure's statement.
func TestSecretAnswersBusyGivenBackPostgres(t *testing.T) {
	st, err := postgres.Open(t.Context(), pgtest.FreshSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	busyGivenBack(t, newTOTPEnvWith(t, servicetest.Options{Store: st}))
}
