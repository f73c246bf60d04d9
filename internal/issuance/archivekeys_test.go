package issuance

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestKeyAlgorithmArchivedKeys: for an archive-key template the algorithm
// is the template's first one the card type holds and the card imports:
// on TPM virtual cards and platform credentials RSA 2048 or 3072 only
// (RSA 4096 and EC skipped, or the template refused naming it and asking
// for an RSA algorithm); PIV cards and AirCards import all they hold; a
// template without archive key is unchanged.
func TestKeyAlgorithmArchivedKeys(t *testing.T) {
	rsa := []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072, lanyard.RSA4096}
	tpmCard := &lanyard.CardType{Name: "tpm-virtual-card", Kind: lanyard.KindTPMVirtualCard, KeyAlgorithms: rsa}
	platform := &lanyard.CardType{Name: "platform-credential", Kind: lanyard.KindPlatformCredential, KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.RSA2048}}
	air := &lanyard.CardType{Name: "aircard", Kind: lanyard.KindAirCard, KeyAlgorithms: rsa}
	mixed := []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA4096, lanyard.RSA3072}
	for _, tc := range []struct {
		name    string
		archive bool
		algs    []lanyard.KeyAlgorithm
		ct      *lanyard.CardType
		want    lanyard.KeyAlgorithm
		refused string
	}{
		{"TPM card, archive key: RSA 4096 skipped", true, mixed, tpmCard, lanyard.RSA3072, ""},
		{"TPM card, no archive key", false, mixed, tpmCard, lanyard.RSA4096, ""},
		{"AirCard, archive key", true, mixed, air, lanyard.RSA4096, ""},
		{"PIV card, archive key", true, mixed, pivType(), lanyard.ECP256, ""},
		{"TPM card, EC only", true, []lanyard.KeyAlgorithm{lanyard.ECP256}, tpmCard, "", "allow an RSA 2048 or RSA 3072 algorithm on the template"},
		{"TPM card, RSA 4096 only", true, []lanyard.KeyAlgorithm{lanyard.RSA4096}, tpmCard, "", `template "t" archives its key`},
		{"platform credential, RSA 3072 only", true, []lanyard.KeyAlgorithm{lanyard.RSA3072}, platform, "", `card of type "platform-credential"`},
		{"TPM card, no archive key, EC only", false, []lanyard.KeyAlgorithm{lanyard.ECP256}, tpmCard, "", "cannot hold"},
	} {
		tpl := &lanyard.Template{Name: "t", KeyAlgs: tc.algs, KeyArchival: tc.archive}
		got, err := KeyAlgorithm(tpl, tc.ct)
		if tc.refused != "" {
			wantErr(t, err, lanyard.EInvalid, tc.refused)
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
		if err := CheckArchivedKey(tpl, tc.ct, got); err != nil {
			t.Errorf("%s: the chosen %s refused: %v", tc.name, got, err)
		}
	}
	// A plan recorded before the rule is checked again before a key is made.
	tpl := &lanyard.Template{Name: "t", KeyAlgs: rsa, KeyArchival: true}
	wantErr(t, CheckArchivedKey(tpl, tpmCard, lanyard.RSA4096), lanyard.EInvalid, "allow an RSA 2048 or RSA 3072 algorithm")
	if err := CheckArchivedKey(tpl, air, lanyard.RSA4096); err != nil {
		t.Errorf("an AirCard refused an archived RSA 4096 key: %v", err)
	}
}
