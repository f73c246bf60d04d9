package vpcdtest

import (
	"github.com/lanyard-cms/lanyard/internal/testlock"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// EnvVar names the address of the real vpcd slot tests use; make test sets
// it from scripts/pcscd-test.sh.
const EnvVar = "LANYARD_TEST_VPCD"

// Addr returns the real vpcd address from LANYARD_TEST_VPCD and fails the
// test when it is unset: tests against pcscd are part of the normal test
// run, so a missing stack is an error, not a reason to skip.
func Addr(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(EnvVar)
	if addr == "" {
		tb.Fatalf("%s is not set: run `make test`, or as root: %s=$(scripts/pcscd-test.sh) go test -tags integration ./internal/card/...", EnvVar, EnvVar)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		tb.Fatalf("%s=%q is not host:port: %v", EnvVar, addr, err)
	}
	return addr
}

// Lock gives the test sole use of the vpcd slot at addr until it ends.
// One pcscd serves the whole machine and a vpcd slot takes one card at a
// time, while `go test ./...` runs packages in parallel processes; an
// exclusive flock on a file named after the slot serialises them.
func Lock(tb testing.TB, addr string) {
	tb.Helper()
	_, port, _ := net.SplitHostPort(addr)
	testlock.Hold(tb, filepath.Join(os.TempDir(), "lanyard-vpcd-"+port+".lock"), "vpcd slot "+addr)
}
