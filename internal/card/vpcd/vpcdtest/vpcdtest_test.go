package vpcdtest

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReader(t *testing.T) {
	readers := []string{
		"Yubico YubiKey OTP+FIDO+CCID 00 00",
		"Virtual PCD 00 00",
		"Lanyard vpcd 35970 00 00",
		"Lanyard vpcd 35970 00 01",
	}
	for port, want := range map[int]string{
		35970: "Lanyard vpcd 35970 00 00",
		35971: "Lanyard vpcd 35970 00 01",
		35963: "",
		35972: "",
	} {
		got, ok := Reader(readers, port)
		if got != want || ok != (want != "") {
			t.Errorf("Reader(%d) = %q, %v; want %q", port, got, ok, want)
		}
	}
}

func TestLockExcludesOtherHolders(t *testing.T) {
	addr := "127.0.0.1:1" // a port no real slot uses
	t.Run("holder", func(t *testing.T) {
		Lock(t, addr)
		// Another open file description (another process, in effect)
		// must not get the lock while the test holds it.
		f, err := os.Open(filepath.Join(os.TempDir(), "lanyard-vpcd-1.lock"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != syscall.EWOULDBLOCK {
			t.Fatalf("second flock: %v, want EWOULDBLOCK", err)
		}
	})
	// The holder's cleanup released it.
	t.Run("next", func(t *testing.T) { Lock(t, addr) })
}
