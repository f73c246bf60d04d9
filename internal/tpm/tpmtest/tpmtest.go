// Package tpmtest gives tests real TPMs: the in-process reference
// simulator and the swtpm that scripts/swtpm-test.sh starts (make test
// sets LANYARD_TEST_SWTPM from it). Tests that need swtpm fail, never
// skip, when it is missing: TPM tests are part of the normal test run.
package tpmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/lanyard-cms/lanyard/internal/testlock"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/tpm"
)

// EnvVar names the swtpm spec ("swtpm:SOCKET"); make test sets it from
// scripts/swtpm-test.sh.
const EnvVar = "LANYARD_TEST_SWTPM"

// Swtpm returns the swtpm spec from LANYARD_TEST_SWTPM and fails the test
// when it is unset.
func Swtpm(tb testing.TB) string {
	tb.Helper()
	spec := os.Getenv(EnvVar)
	if spec == "" {
		tb.Fatalf("%s is not set: run `make test`, or: %s=$(scripts/swtpm-test.sh) go test -tags integration ./internal/tpm/... ./internal/card/tpmkeys/...", EnvVar, EnvVar)
	}
	if !strings.HasPrefix(spec, "swtpm:") {
		tb.Fatalf("%s=%q is not swtpm:SOCKET", EnvVar, spec)
	}
	return spec
}

// OpenSwtpm locks the swtpm for the test (Lock), opens it, and clears its
// dictionary-attack counter and sets SimulatorMaxTries and
// SimulatorRecovery, so that each test starts from the same TPM state.
// The TPM is closed when the test ends.
func OpenSwtpm(tb testing.TB) *tpm.TPM {
	tb.Helper()
	spec := Swtpm(tb)
	Lock(tb, spec)
	t, err := tpm.Open(spec)
	if err != nil {
		tb.Fatalf("opening %s (is scripts/swtpm-test.sh's swtpm running?): %v", spec, err)
	}
	tb.Cleanup(func() { t.Close() })
	if err := t.ResetDictionaryAttackLockout(); err != nil {
		tb.Fatal(err)
	}
	if err := t.SetDictionaryAttackParameters(tpm.SimulatorMaxTries, tpm.SimulatorRecovery, tpm.SimulatorLockoutRecovery); err != nil {
		tb.Fatal(err)
	}
	return t
}

// OpenSimulator opens the in-process simulator with its seed in seedFile
// (made when missing) and closes it when the test ends. Only one simulator
// runs in a process at a time: tests using it must not run in parallel.
func OpenSimulator(tb testing.TB, seedFile string) *tpm.TPM {
	tb.Helper()
	t, err := tpm.Open("simulator:" + seedFile)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { t.Close() })
	return t
}

// Lock gives the test sole use of the TPM spec names until it ends. swtpm
// has no resource manager: its few object slots, its sessions and its
// dictionary-attack counter are shared by every process that talks to it,
// and `go test ./...` runs packages in parallel processes; an exclusive
// flock on a file named after the spec serialises them.
func Lock(tb testing.TB, spec string) {
	tb.Helper()
	sum := sha256.Sum256([]byte(spec))
	path := filepath.Join(os.TempDir(), "lanyard-tpm-"+hex.EncodeToString(sum[:8])+".lock")
	testlock.Hold(tb, path, spec)
}
