// Package testlock serialises tests of parallel `go test` processes that
// share one machine-wide resource (pcscd's vpcd slots, a running swtpm):
// an exclusive flock on a file, held until the test ends.
package testlock

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// Hold waits for the exclusive lock on path and keeps it until the test
// ends (closing the file releases it). what names the resource in the
// message logged while waiting.
func Hold(tb testing.TB, path, what string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		tb.Fatalf("testlock: lock file: %v", err)
	}
	start := time.Now()
	logged := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			tb.Fatalf("testlock: flock %s: %v", path, err)
		}
		if !logged && time.Since(start) > time.Second {
			tb.Logf("waiting for another test process to release %s (%s)", what, path)
			logged = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Cleanup(func() { f.Close() })
}
