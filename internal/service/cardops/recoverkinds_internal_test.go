package cardops

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestRetiredSlotsByKind: every card kind but a software store has the
// retired key slots archived keys are recovered into (the card view's
// cardperm RetiredSlots); a TPM card takes RSA 2048 and 3072 keys only,
// the others every algorithm.
func TestRetiredSlotsByKind(t *testing.T) {
	for _, tc := range []struct {
		kind    lanyard.CardKind
		retired bool
		takes   []lanyard.KeyAlgorithm
		skips   []lanyard.KeyAlgorithm
	}{
		{lanyard.KindPIV, true, []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.ECP256, lanyard.ECP384}, nil},
		{lanyard.KindAirCard, true, []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA4096, lanyard.ECP256}, nil},
		{lanyard.KindTPMVirtualCard, true, []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072}, []lanyard.KeyAlgorithm{lanyard.RSA4096, lanyard.ECP256, lanyard.ECP384}},
		{lanyard.KindPlatformCredential, true, []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072}, []lanyard.KeyAlgorithm{lanyard.ECP256}},
		{lanyard.KindSoftwareStore, false, nil, nil},
		{"unknown", false, nil, nil},
	} {
		if got := holdsRetiredKeys(tc.kind); got != tc.retired {
			t.Errorf("holdsRetiredKeys(%s) = %v, want %v", tc.kind, got, tc.retired)
		}
		var keys []*lanyard.ArchivedKey
		for i, alg := range append(append([]lanyard.KeyAlgorithm{}, tc.takes...), tc.skips...) {
			keys = append(keys, &lanyard.ArchivedKey{ID: int64(i + 1), Algorithm: alg})
		}
		if kept := cardImports(tc.kind, keys); len(kept) != len(tc.takes) {
			t.Errorf("a %s card takes %d of %v, want %v", tc.kind, len(kept), append(tc.takes, tc.skips...), tc.takes)
		}
	}
}
