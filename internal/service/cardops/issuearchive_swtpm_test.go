//go:build integration

package cardops_test

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// TestIssueTPMVirtualCardArchivesKeySwtpm is
// TestIssueTPMVirtualCardArchivesKey on swtpm: the archived key goes into
// the TPM by TPM2_Import and decrypts there under the card's PIN.
func TestIssueTPMVirtualCardArchivesKeySwtpm(t *testing.T) {
	testIssueTPMVirtualCardArchivesKey(t, tpmStore(t, tpmtest.OpenSwtpm(t)))
}

// TestIssuePlatformCredentialArchivesKeySwtpm is
// TestIssuePlatformCredentialArchivesKey on swtpm: the key imported before
// Set up PIN follows the PIN its user sets.
func TestIssuePlatformCredentialArchivesKeySwtpm(t *testing.T) {
	testIssuePlatformCredentialArchivesKey(t, tpmStore(t, tpmtest.OpenSwtpm(t)))
}

// TestUpdateTPMVirtualCardArchivesKeySwtpm is
// TestUpdateTPMVirtualCardArchivesKey on swtpm: the update's new archived
// key goes into the TPM by TPM2_Import.
func TestUpdateTPMVirtualCardArchivesKeySwtpm(t *testing.T) {
	testUpdateTPMVirtualCardArchivesKey(t, tpmStore(t, tpmtest.OpenSwtpm(t)))
}

// TestTPMVirtualCardRecoversEarlierKeysSwtpm is
// TestTPMVirtualCardRecoversEarlierKeys on swtpm: the earlier RSA key goes
// into retired slot 82 by TPM2_Import, the EC key is skipped.
func TestTPMVirtualCardRecoversEarlierKeysSwtpm(t *testing.T) {
	testTPMVirtualCardRecoversEarlierKeys(t, tpmStore(t, tpmtest.OpenSwtpm(t)))
}
