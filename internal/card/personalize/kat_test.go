package personalize

import (
	"encoding/hex"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestKnownAnswers pins the derivation: cards in the field hold keys made
// by it, so any change would lock every one of them out. A deliberate
// change needs a new label and master secret version, never an edit here.
func TestKnownAnswers(t *testing.T) {
	for _, c := range []struct {
		kind lanyard.AdminKeyKind
		want string
	}{
		{lanyard.AdminKey3DES, "d0ea07ce0d645d0404ba468379044351c81fc7230dc19bb3"},
		{lanyard.AdminKeyAES128, "de90c8b07d05b9dbea2eab70fde51a7d"},
		{lanyard.AdminKeyAES192, "f240078ede03ae3e8fff9b8942333f6777b29ca6b475184f"},
		{lanyard.AdminKeyAES256, "7652f86094de11e21c0c6e800f3906c277105d0690159e7d1850890be2c8ba9c"},
	} {
		got := hex.EncodeToString(mustDerive(t, master, 1, c.kind, []byte("card-0001")))
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.kind, got, c.want)
		}
	}
}
