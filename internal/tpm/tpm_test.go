package tpm_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// TestOpenSpecs checks the spec forms Open refuses without touching a TPM.
func TestOpenSpecs(t *testing.T) {
	for _, spec := range []string{"device:", "swtpm:", "simulator:", "tcp:localhost:2321", "auto:x"} {
		if _, err := tpm.Open(spec); err == nil {
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	if _, err := os.Stat(tpm.DefaultDevice); err != nil {
		_, err := tpm.Open("auto")
		if !errors.Is(err, tpm.ErrNoTPM) || !strings.Contains(err.Error(), tpm.DefaultDevice) {
			t.Fatalf("Open(auto) without %s: %v", tpm.DefaultDevice, err)
		}
	}
	if _, err := tpm.Open("swtpm:" + filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("Open of a missing swtpm socket succeeded")
	}
}

// TestSimulatorInfo opens the simulator, which makes its seed file
// (0600), and checks Info: the reference TPM's manufacturer, RSA 2048,
// and the dictionary-attack parameters Open gave it.
func TestSimulatorInfo(t *testing.T) {
	seed := filepath.Join(t.TempDir(), "seed")
	tp := tpmtest.OpenSimulator(t, seed)
	fi, err := os.Stat(seed)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v, %v", fi, err)
	}
	info, err := tp.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != tpm.KindSimulator || info.Manufacturer == "" || !info.RSA2048 || info.Usable() != nil {
		t.Fatalf("Info: %+v", info)
	}
	if info.MaxAuthFail != tpm.SimulatorMaxTries || info.LockoutInterval != tpm.SimulatorRecovery || info.InLockout || info.LockoutCounter != 0 {
		t.Fatalf("DA state: %+v", info)
	}
	t.Logf("simulator: %+v", info)
}
