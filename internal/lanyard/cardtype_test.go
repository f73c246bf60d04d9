package lanyard_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestCardKindRules(t *testing.T) {
	all := []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072, lanyard.RSA4096, lanyard.ECP256, lanyard.ECP384}
	rsaOnly := []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072, lanyard.RSA4096}
	tests := []struct {
		kind lanyard.CardKind
		want lanyard.KindRules
	}{
		{lanyard.KindPIV, lanyard.KindRules{
			KeyAlgorithms: all, InitializationAllowed: true, PasswordResettable: true, HasAdminKey: true, KeysOnCard: true,
		}},
		// Guide: only RSA certificates; initialization is not supported.
		{lanyard.KindTPMVirtualCard, lanyard.KindRules{
			KeyAlgorithms: rsaOnly, PasswordResettable: true, HasAdminKey: true, KeysOnCard: true,
		}},
		// Guide: RSA 2048 only; at most 10 per computer; one per user per workstation.
		{lanyard.KindPlatformCredential, lanyard.KindRules{
			KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.RSA2048}, MaxPerWorkstation: 10, OnePerUserPerStation: true, PasswordResettable: true, KeysOnCard: true,
		}},
		// Guide: only RSA certificates.
		{lanyard.KindAirCard, lanyard.KindRules{
			KeyAlgorithms: rsaOnly, PasswordResettable: true, HasAdminKey: true, KeysOnCard: true,
		}},
		// Guide: the key container password cannot be reset.
		{lanyard.KindSoftwareStore, lanyard.KindRules{KeyAlgorithms: all}},
	}
	for _, tt := range tests {
		got, ok := tt.kind.Rules()
		if !ok {
			t.Errorf("%s: Rules() not ok", tt.kind)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Rules() = %+v\nwant %+v", tt.kind, got, tt.want)
		}
	}
	if len(tests) != len(lanyard.AllCardKinds) {
		t.Errorf("AllCardKinds has %d kinds, the table %d", len(lanyard.AllCardKinds), len(tests))
	}
	for _, k := range lanyard.AllCardKinds {
		r, ok := k.Rules()
		if !ok || len(r.KeyAlgorithms) == 0 {
			t.Errorf("%s: Rules() = %+v, %v", k, r, ok)
		}
		for _, a := range r.KeyAlgorithms {
			if !a.Valid() {
				t.Errorf("%s allows unknown algorithm %q", k, a)
			}
		}
	}
	for _, k := range []lanyard.CardKind{"", "PIV", "tpm", "virtual_card", "aircard "} {
		if r, ok := k.Rules(); ok || !reflect.DeepEqual(r, lanyard.KindRules{}) {
			t.Errorf("unknown kind %q: Rules() = %+v, %v; want zero, false", k, r, ok)
		}
	}
}

func TestAdminKeyKindKeyLen(t *testing.T) {
	tests := []struct {
		kind lanyard.AdminKeyKind
		want int
	}{
		{lanyard.AdminKey3DES, 24},
		{lanyard.AdminKeyAES128, 16},
		{lanyard.AdminKeyAES192, 24},
		{lanyard.AdminKeyAES256, 32},
		{"", 0},
		{"des", 0},
		{"AES128", 0},
		{"aes", 0},
	}
	for _, tt := range tests {
		if got := tt.kind.KeyLen(); got != tt.want {
			t.Errorf("%q.KeyLen() = %d, want %d", tt.kind, got, tt.want)
		}
	}
}

// yubiKeyATR is a YubiKey 5 NFC ATR, written as card types store it.
const yubiKeyATR = "3b fd 13 00 00 81 31 fe 15 80 73 c0 21 c0 57 59 75 62 69 4b 65 79 40"

// validCardType returns a card type of kind k that Validate accepts; table
// rows change one field of it.
func validCardType(k lanyard.CardKind) *lanyard.CardType {
	c := &lanyard.CardType{
		Name:          "piv-standard_v1.2",
		Kind:          k,
		KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.RSA2048},
		PIN:           lanyard.PINPolicy{MinLength: 6, MaxLength: 8, PINRetries: 3, PUKRetries: 3},
	}
	switch k {
	case lanyard.KindPIV:
		c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}
		c.ATRPatterns = []string{yubiKeyATR, "3B:F8:13:00:00:81:31:FE:xx"}
		c.AdminKey, c.AdminMode = lanyard.AdminKeyAES256, lanyard.AdminKeyRandom
		c.SupportsInit = true
	case lanyard.KindTPMVirtualCard:
		c.AdminKey, c.AdminMode = lanyard.AdminKey3DES, lanyard.AdminKeyDefault
	case lanyard.KindAirCard:
		c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.RSA3072}
		c.AdminKey, c.AdminMode = lanyard.AdminKeyAES128, lanyard.AdminKeyRandom
	case lanyard.KindPlatformCredential:
		c.PIN.MaxLength = 16
	case lanyard.KindSoftwareStore:
		c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.ECP384, lanyard.RSA4096}
		c.PIN.MaxLength = 16
	}
	return c
}

func TestCardTypeValidate(t *testing.T) {
	const (
		badName  = "card type name"
		noAlgs   = "at least one key algorithm"
		badAlg   = "cannot hold"
		noInit   = "does not support initialization"
		badAKind = "admin key kind must be"
		badAMode = "admin key mode must be"
		tpmKey   = "random or a Triple DES admin key"
		pinPIV   = "PIN length range must lie within 4..8"
		pin16    = "PIN length range must lie within 4..16"
		retries  = "retries must be 1..255"
		atr      = "ATR pattern"
	)
	piv, tpm, plat, air, soft := lanyard.KindPIV, lanyard.KindTPMVirtualCard, lanyard.KindPlatformCredential, lanyard.KindAirCard, lanyard.KindSoftwareStore
	tests := []struct {
		name    string
		kind    lanyard.CardKind
		edit    func(c *lanyard.CardType)
		wantErr string
	}{
		// Accepted.
		{"PIV", piv, nil, ""},
		{"TPM virtual card with fixed 3DES key", tpm, nil, ""},
		{"TPM virtual card with random AES-256 key", tpm, func(c *lanyard.CardType) { c.AdminKey, c.AdminMode = lanyard.AdminKeyAES256, lanyard.AdminKeyRandom }, ""},
		{"TPM virtual card, all RSA sizes", tpm, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{"rsa2048", "rsa3072", "rsa4096"} }, ""},
		{"platform credential", plat, nil, ""},
		{"AirCard", air, nil, ""},
		{"software store", soft, nil, ""},
		{"PIV with default 3DES key", piv, func(c *lanyard.CardType) { c.AdminKey, c.AdminMode = lanyard.AdminKey3DES, lanyard.AdminKeyDefault }, ""},
		{"PIV with default AES-192 key", piv, func(c *lanyard.CardType) { c.AdminKey, c.AdminMode = lanyard.AdminKeyAES192, lanyard.AdminKeyDefault }, ""},
		{"PIV with every algorithm", piv, func(c *lanyard.CardType) { c.KeyAlgorithms = lanyard.AllKeyAlgorithms }, ""},
		{"PIV without init", piv, func(c *lanyard.CardType) { c.SupportsInit = false }, ""},
		{"PIV PIN 4..8", piv, func(c *lanyard.CardType) { c.PIN.MinLength, c.PIN.MaxLength = 4, 8 }, ""},
		{"PIV PIN exactly 8", piv, func(c *lanyard.CardType) { c.PIN.MinLength, c.PIN.MaxLength = 8, 8 }, ""},
		{"software store PIN 4..16", soft, func(c *lanyard.CardType) { c.PIN.MinLength, c.PIN.MaxLength = 4, 16 }, ""},
		{"retries 1", piv, func(c *lanyard.CardType) { c.PIN.PINRetries, c.PIN.PUKRetries = 1, 1 }, ""},
		{"retries 255", piv, func(c *lanyard.CardType) { c.PIN.PINRetries, c.PIN.PUKRetries = 255, 255 }, ""},
		{"no ATR patterns", piv, func(c *lanyard.CardType) { c.ATRPatterns = nil }, ""},
		{"64-character name", piv, func(c *lanyard.CardType) { c.Name = strings.Repeat("a", 64) }, ""},
		{"software store ignores admin key fields", soft, func(c *lanyard.CardType) { c.AdminKey, c.AdminMode = "", "" }, ""},

		// Name.
		{"empty name", piv, func(c *lanyard.CardType) { c.Name = "" }, badName},
		{"65-character name", piv, func(c *lanyard.CardType) { c.Name = strings.Repeat("a", 65) }, badName},
		{"name with space", piv, func(c *lanyard.CardType) { c.Name = "piv card" }, badName},
		{"name with slash", piv, func(c *lanyard.CardType) { c.Name = "../piv" }, badName},
		{"name with non-ASCII", piv, func(c *lanyard.CardType) { c.Name = "pivé" }, badName},

		// Kind.
		{"empty kind", "", nil, `unknown card kind ""`},
		{"upper-case kind", "PIV", nil, `unknown card kind "PIV"`},
		{"made-up kind", "smartphone", nil, `unknown card kind "smartphone"`},

		// Key algorithms.
		{"no algorithms", piv, func(c *lanyard.CardType) { c.KeyAlgorithms = nil }, noAlgs},
		{"unknown algorithm", piv, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{"rsa1024"} }, badAlg},
		{"EC P-256 on TPM", tpm, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.ECP256} }, "kind tpm_virtual_card cannot hold ecp256 keys"},
		{"EC P-384 on TPM", tpm, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.ECP384} }, badAlg},
		{"EC on AirCard", air, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.ECP256} }, badAlg},
		{"RSA 3072 on platform credential", plat, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.RSA3072} }, badAlg},
		{"EC on platform credential", plat, func(c *lanyard.CardType) { c.KeyAlgorithms = []lanyard.KeyAlgorithm{lanyard.ECP256} }, badAlg},

		// Initialization.
		{"init on TPM", tpm, func(c *lanyard.CardType) { c.SupportsInit = true }, "kind tpm_virtual_card does not support initialization"},
		{"init on platform credential", plat, func(c *lanyard.CardType) { c.SupportsInit = true }, noInit},
		{"init on AirCard", air, func(c *lanyard.CardType) { c.SupportsInit = true }, noInit},
		{"init on software store", soft, func(c *lanyard.CardType) { c.SupportsInit = true }, noInit},

		// Admin key.
		{"PIV without admin key kind", piv, func(c *lanyard.CardType) { c.AdminKey = "" }, badAKind},
		{"PIV with DES admin key", piv, func(c *lanyard.CardType) { c.AdminKey = "des" }, badAKind},
		{"PIV with upper-case admin key kind", piv, func(c *lanyard.CardType) { c.AdminKey = "AES128" }, badAKind},
		{"AirCard without admin key kind", air, func(c *lanyard.CardType) { c.AdminKey = "" }, badAKind},
		{"PIV without admin key mode", piv, func(c *lanyard.CardType) { c.AdminMode = "" }, badAMode},
		{"PIV with unknown admin key mode", piv, func(c *lanyard.CardType) { c.AdminMode = "diversified" }, badAMode},
		{"TPM without admin key mode", tpm, func(c *lanyard.CardType) { c.AdminMode = "" }, badAMode},
		{"TPM default AES-128", tpm, func(c *lanyard.CardType) { c.AdminKey = lanyard.AdminKeyAES128 }, tpmKey},
		{"TPM default AES-192", tpm, func(c *lanyard.CardType) { c.AdminKey = lanyard.AdminKeyAES192 }, tpmKey},
		{"TPM default AES-256", tpm, func(c *lanyard.CardType) { c.AdminKey = lanyard.AdminKeyAES256 }, tpmKey},

		// PIN policy.
		{"PIN min 3", piv, func(c *lanyard.CardType) { c.PIN.MinLength = 3 }, pinPIV},
		{"PIV PIN max 9", piv, func(c *lanyard.CardType) { c.PIN.MaxLength = 9 }, pinPIV},
		{"TPM PIN max 9", tpm, func(c *lanyard.CardType) { c.PIN.MaxLength = 9 }, pinPIV},
		{"AirCard PIN max 16", air, func(c *lanyard.CardType) { c.PIN.MaxLength = 16 }, pinPIV},
		{"software store PIN max 17", soft, func(c *lanyard.CardType) { c.PIN.MaxLength = 17 }, pin16},
		{"platform credential PIN max 17", plat, func(c *lanyard.CardType) { c.PIN.MaxLength = 17 }, pin16},
		{"PIN min > max", piv, func(c *lanyard.CardType) { c.PIN.MinLength, c.PIN.MaxLength = 8, 6 }, pinPIV},
		{"zero PIN policy", piv, func(c *lanyard.CardType) { c.PIN = lanyard.PINPolicy{} }, pinPIV},
		{"PIN retries 0", piv, func(c *lanyard.CardType) { c.PIN.PINRetries = 0 }, retries},
		{"PIN retries 256", piv, func(c *lanyard.CardType) { c.PIN.PINRetries = 256 }, retries},
		{"PIN retries negative", piv, func(c *lanyard.CardType) { c.PIN.PINRetries = -1 }, retries},
		{"PUK retries 0", piv, func(c *lanyard.CardType) { c.PIN.PUKRetries = 0 }, retries},
		{"PUK retries 256", piv, func(c *lanyard.CardType) { c.PIN.PUKRetries = 256 }, retries},

		// ATR patterns.
		{"odd ATR pattern", piv, func(c *lanyard.CardType) { c.ATRPatterns = []string{"3b f"} }, atr},
		{"bad hex in ATR pattern", piv, func(c *lanyard.CardType) { c.ATRPatterns = []string{"3b zz"} }, `bad hex byte "zz"`},
		{"empty ATR pattern", piv, func(c *lanyard.CardType) { c.ATRPatterns = []string{""} }, atr},
		{"second ATR pattern bad", piv, func(c *lanyard.CardType) { c.ATRPatterns = []string{yubiKeyATR, "3b x"} }, `ATR pattern "3b x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCardType(tt.kind)
			if tt.edit != nil {
				tt.edit(c)
			}
			before := *c
			checkInvalid(t, c.Validate(), tt.wantErr)
			if !reflect.DeepEqual(*c, before) {
				t.Errorf("Validate changed the card type: %+v", *c)
			}
		})
	}
}

func TestCardTypeSecretsValidate(t *testing.T) {
	piv := validCardType(lanyard.KindPIV) // AES-256, PIN 6..8
	tdes := validCardType(lanyard.KindPIV)
	tdes.AdminKey, tdes.AdminMode = lanyard.AdminKey3DES, lanyard.AdminKeyDefault
	soft := validCardType(lanyard.KindSoftwareStore) // no admin key, PIN 6..16
	tests := []struct {
		name    string
		card    *lanyard.CardType
		s       lanyard.CardTypeSecrets
		wantErr string
	}{
		{"nothing set", piv, lanyard.CardTypeSecrets{}, ""},
		{"AES-256 key", piv, lanyard.CardTypeSecrets{AdminKey: bytes.Repeat([]byte{1}, 32)}, ""},
		{"3DES key", tdes, lanyard.CardTypeSecrets{AdminKey: bytes.Repeat([]byte{1}, 24)}, ""},
		{"all set", piv, lanyard.CardTypeSecrets{AdminKey: make([]byte, 32), UserPIN: "123456", PUK: "12345678"}, ""},
		{"PIN at min", piv, lanyard.CardTypeSecrets{UserPIN: "abc!@#"}, ""},
		{"PIN at max", piv, lanyard.CardTypeSecrets{UserPIN: "12 45 78"}, ""},
		{"long PIN on software store", soft, lanyard.CardTypeSecrets{UserPIN: "correct horse 16"}, ""},
		{"PUK of 6", piv, lanyard.CardTypeSecrets{PUK: "123456"}, ""},

		{"AES-256 card, 24-byte key", piv, lanyard.CardTypeSecrets{AdminKey: make([]byte, 24)}, `a aes256 admin key is 32 bytes`},
		{"AES-256 card, 33-byte key", piv, lanyard.CardTypeSecrets{AdminKey: make([]byte, 33)}, "admin key is 32 bytes"},
		{"3DES card, 16-byte key", tdes, lanyard.CardTypeSecrets{AdminKey: make([]byte, 16)}, "a 3des admin key is 24 bytes"},
		{"admin key for a kind without one", soft, lanyard.CardTypeSecrets{AdminKey: make([]byte, 24)}, "has no admin key"},
		{"PIN too short", piv, lanyard.CardTypeSecrets{UserPIN: "12345"}, "default user PIN must be 6-8"},
		{"PIN too long", piv, lanyard.CardTypeSecrets{UserPIN: "123456789"}, "default user PIN must be 6-8"},
		{"PIN too long for software store", soft, lanyard.CardTypeSecrets{UserPIN: strings.Repeat("1", 17)}, "default user PIN must be 6-16"},
		{"PIN with NUL", piv, lanyard.CardTypeSecrets{UserPIN: "12345\x00"}, "default user PIN"},
		{"PIN with non-ASCII", piv, lanyard.CardTypeSecrets{UserPIN: "1234é"}, "default user PIN"},
		{"PUK too short", piv, lanyard.CardTypeSecrets{PUK: "12345"}, "default PUK must be 6-8"},
		{"PUK too long", piv, lanyard.CardTypeSecrets{PUK: "123456789"}, "default PUK must be 6-8"},
		{"PUK with newline", piv, lanyard.CardTypeSecrets{PUK: "1234567\n"}, "default PUK"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			err := s.Validate(tt.card)
			checkInvalid(t, err, tt.wantErr)
			if err != nil && (strings.Contains(err.Error(), s.UserPIN) && s.UserPIN != "" || strings.Contains(err.Error(), s.PUK) && s.PUK != "") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

func TestValidPIN(t *testing.T) {
	tests := []struct {
		pin      string
		min, max int
		want     bool
	}{
		{"123456", 6, 8, true},
		{"12345678", 6, 8, true},
		{"12345", 6, 8, false},
		{"123456789", 6, 8, false},
		{"", 0, 8, true},
		{"", 4, 8, false},
		{"    ", 4, 8, true},     // 0x20 is printable
		{"~~~~", 4, 8, true},     // 0x7e is printable
		{"abc\x7f", 4, 8, false}, // DEL
		{"abc\x1f", 4, 8, false},
		{"abc\t", 4, 8, false},
		{"ab\x00c", 4, 8, false},
		{"1234\xff", 4, 8, false},
		{"pässwd", 4, 8, false}, // non-ASCII
		{"1234", 8, 4, false},   // empty range
	}
	for _, tt := range tests {
		if got := lanyard.ValidPIN(tt.pin, tt.min, tt.max); got != tt.want {
			t.Errorf("ValidPIN(%q, %d, %d) = %v, want %v", tt.pin, tt.min, tt.max, got, tt.want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"a", true},
		{"PIV-Standard_2.0", true},
		{strings.Repeat("x", 64), true},
		{"", false},
		{strings.Repeat("x", 65), false},
		{"with space", false},
		{"a/b", false},
		{"a%2fb", false},
		{"naïve", false},
		{"tab\t", false},
	}
	for _, tt := range tests {
		if got := lanyard.ValidName(tt.s); got != tt.want {
			t.Errorf("ValidName(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
