package clustertest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles cmd/lanyard into dir and returns the binary's path.
// Tests that start many clusters build once (the e2e package's
// lanyardBinary) and pass the binary to Start.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	bin := filepath.Join(dir, "lanyard")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/lanyard-cms/lanyard/cmd/lanyard").CombinedOutput()
	if err != nil {
		tb.Fatalf("go build ./cmd/lanyard: %v\n%s", err, out)
	}
	return bin
}
