// Package storetest is the contract test suite for lanyard.Store. Every
// storage engine runs the same Run against a real database (see
// internal/store/sqlite and internal/store/postgres), which is what makes
// the engines interchangeable. It also offers MustX helpers for other
// packages' tests that need a store with some content.
//
// The suite pins down what the lanyard.Tx comments leave open, so that
// every engine behaves the same:
//
//   - times come back in UTC, truncated to the microsecond, the zero time
//     as the zero time; Create/Update leave the caller's struct equal to
//     what a later read returns;
//   - list fields and list results are never nil (empty slices instead);
//     byte fields are nil when empty; nested documents round-trip as
//     encoding/json does;
//   - look-ups of missing objects fail with ENotFound, unique clashes with
//     EConflict, references to missing users or certificates with EInvalid;
//   - Update methods write every field but ID and CreatedAt, except
//     UpdateCertificate (status, card, revocation, UpdatedAt) and
//     UpdateRequest (the decision fields);
//   - a failed statement poisons the transaction: Update returns that
//     error even if fn swallowed it, and commits nothing;
//   - View cannot write;
//   - a notice sent in a transaction is delivered once, after it
//     commits, and never after a rollback.
package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Run runs the contract suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends, before any
// cleanup that open registered runs. Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) lanyard.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s lanyard.Store)
	}{
		{"Engine", testEngine},
		{"Users", testUsers},
		{"UserFilters", testUserFilters},
		{"Tokens", testTokens},
		{"Sessions", testSessions},
		{"UPNUnique", testUPNUnique},
		{"UserSources", testUserSources},
		{"SCIMTokens", testSCIMTokens},
		{"SCIMUsersGroups", testSCIMUsersGroups},
		{"DirectorySources", testDirectorySources},
		{"UserCredentials", testUserCredentials},
		{"SecretLocks", testSecretLocks},
		{"ThrottleRows", testThrottleRows},
		{"RSSSessions", testRSSSessions},
		{"LoginChallenges", testLoginChallenges},
		{"UserLoginChallenges", testUserLoginChallenges},
		{"ClipTokenLifetimes", testClipTokenLifetimes},
		{"CardTypes", testCardTypes},
		{"Templates", testTemplates},
		{"Policies", testPolicies},
		{"CAs", testCAs},
		{"Certificates", testCertificates},
		{"Batches", testBatches},
		{"CreateIssued", testCreateIssued},
		{"Cards", testCards},
		{"MaxCardsConcurrent", testMaxCardsConcurrent},
		{"CardLockConcurrent", testCardLockConcurrent},
		{"ExpiredPairings", testExpiredPairings},
		{"Operations", testOperations},
		{"SecretAnswers", testSecretAnswers},
		{"TOTP", testTOTP},
		{"TOTPConcurrent", testTOTPConcurrent},
		{"HeldPINs", testHeldPINs},
		{"OfflineUnblocks", testOfflineUnblocks},
		{"CardReplacements", testCardReplacements},
		{"ArchivedKeys", testArchivedKeys},
		{"KeyRecoveryRequests", testKeyRecoveryRequests},
		{"KRAKeys", testKRAKeys},
		{"OfflineArms", testOfflineArms},
		{"CardPINStatus", testCardPINStatus},
		{"CardContent", testCardContent},
		{"JobRuns", testJobRuns},
		{"HeldPINsExpire", testHeldPINsExpire},
		{"HeldPINTakeConcurrent", testHeldPINTakeConcurrent},
		{"CertificateFilters", testCertificateFilters},
		{"CRLEntries", testCRLEntries},
		{"Requests", testRequests},
		{"Documents", testDocuments},
		{"Workstations", testWorkstations},
		{"AirCards", testAirCards},
		{"Replicas", testReplicas},
		{"AgentRoutes", testAgentRoutes},
		{"AgentRoutesConcurrent", testAgentRoutesConcurrent},
		{"Mail", testMail},
		{"MailClaim", testMailClaim},
		{"MailClaimConcurrent", testMailClaimConcurrent},
		{"MailClearContent", testMailClearContent},
		{"Settings", testSettings},
		{"OIDCProviders", testOIDCProviders},
		{"OIDCLogins", testOIDCLogins},
		{"OIDCBindings", testOIDCBindings},
		{"UsersByEmail", testUsersByEmail},
		{"Times", testTimes},
		{"Audit", testAudit},
		{"AuditFilters", testAuditFilters},
		{"AuditConcurrent", testAuditConcurrent},
		{"Rollback", testRollback},
		{"Panic", testPanic},
		{"FailedStatementPoisons", testPoisoned},
		{"ViewCannotWrite", testViewReadOnly},
		{"Notices", testNotices},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func testEngine(t *testing.T, s lanyard.Store) {
	if e := s.Engine(); e != "sqlite" && e != "postgres" {
		t.Errorf("Engine() = %q, want sqlite or postgres", e)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
