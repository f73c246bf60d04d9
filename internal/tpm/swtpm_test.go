//go:build integration

package tpm_test

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/tpm"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// TestSwtpmInfo does the same on swtpm, and sets the DA parameters.
func TestSwtpmInfo(t *testing.T) {
	tp := tpmtest.OpenSwtpm(t)
	if err := tp.SetDictionaryAttackParameters(5, time.Minute, time.Hour); err != nil {
		t.Fatal(err)
	}
	info, err := tp.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != tpm.KindSwtpm || info.Manufacturer != "IBM" || !info.RSA2048 || info.MaxAuthFail != 5 || info.LockoutInterval != time.Minute {
		t.Fatalf("Info: %+v", info)
	}
	t.Logf("swtpm: %+v", info)
}
