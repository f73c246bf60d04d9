//go:build integration

package postgres

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestMigrateSecretQuestions: migration 0019 gives policies saved before
// it the default secret questions and users no wrong answers.
func TestMigrateSecretQuestions(t *testing.T) { migrateOld(t, storetest.MigrateSecretQuestions) }
