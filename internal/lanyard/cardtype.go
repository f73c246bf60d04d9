package lanyard

import (
	"slices"
	"time"
)

// CardKind is the family a card type belongs to; it fixes which rules
// apply (KindRules).
type CardKind string

const (
	KindPIV                CardKind = "piv"                 // PIV smart card or token (SP 800-73-4)
	KindTPMVirtualCard     CardKind = "tpm_virtual_card"    // virtual PIV card whose keys live in the TPM 2.0
	KindPlatformCredential CardKind = "platform_credential" // Windows Hello for Business model: TPM key + PIN after MFA
	KindAirCard            CardKind = "aircard"             // server-hosted virtual PIV card
	KindSoftwareStore      CardKind = "software_store"      // PKCS#12 in a machine or user store ("Registry")
)

// AllCardKinds lists every kind.
var AllCardKinds = []CardKind{KindPIV, KindTPMVirtualCard, KindPlatformCredential, KindAirCard, KindSoftwareStore}

// KindRules are the fixed constraints of a card kind, from the user guide.
type KindRules struct {
	KeyAlgorithms         []KeyAlgorithm // algorithms the kind can hold at all
	InitializationAllowed bool
	MaxPerWorkstation     int  // 0 = unlimited
	OnePerUserPerStation  bool // platform credential: one per user per workstation
	PasswordResettable    bool // software store: key container password cannot be reset
	HasAdminKey           bool // kinds managed with a PIV management key
	// KeysOnCard: keys are generated inside the card (or the TPM, or the
	// AirCard service's sealed card) and never leave it, so a template
	// with CardKeysOnly may certify them.
	KeysOnCard bool
}

// Rules returns the rules of kind k; ok is false for unknown kinds.
func (k CardKind) Rules() (r KindRules, ok bool) {
	rsa := []KeyAlgorithm{RSA2048, RSA3072, RSA4096}
	switch k {
	case KindPIV:
		return KindRules{KeyAlgorithms: slices.Clone(AllKeyAlgorithms), InitializationAllowed: true, HasAdminKey: true, PasswordResettable: true, KeysOnCard: true}, true
	case KindTPMVirtualCard: // guide: only RSA certificates; initialization not supported
		return KindRules{KeyAlgorithms: rsa, HasAdminKey: true, PasswordResettable: true, KeysOnCard: true}, true
	case KindPlatformCredential: // guide: RSA 2048 only; at most 10 per computer; one per user per workstation
		return KindRules{KeyAlgorithms: []KeyAlgorithm{RSA2048}, MaxPerWorkstation: 10, OnePerUserPerStation: true, PasswordResettable: true, KeysOnCard: true}, true
	case KindAirCard: // guide: only RSA certificates
		return KindRules{KeyAlgorithms: rsa, HasAdminKey: true, PasswordResettable: true, KeysOnCard: true}, true
	case KindSoftwareStore: // guide: the key container password cannot be reset
		return KindRules{KeyAlgorithms: slices.Clone(AllKeyAlgorithms)}, true
	}
	return KindRules{}, false
}

// AdminKeyKind is the PIV management key algorithm (SP 800-78-4 table 5).
type AdminKeyKind string

const (
	AdminKey3DES   AdminKeyKind = "3des"
	AdminKeyAES128 AdminKeyKind = "aes128"
	AdminKeyAES192 AdminKeyKind = "aes192"
	AdminKeyAES256 AdminKeyKind = "aes256"
)

// KeyLen is the key length in bytes.
func (k AdminKeyKind) KeyLen() int {
	switch k {
	case AdminKey3DES, AdminKeyAES192:
		return 24
	case AdminKeyAES128:
		return 16
	case AdminKeyAES256:
		return 32
	}
	return 0
}

// AdminKeyMode says how a card's management key is chosen.
type AdminKeyMode string

const (
	// AdminKeyDefault: every card of the type uses the card type's default value.
	AdminKeyDefault AdminKeyMode = "default"
	// AdminKeyRandom: each card's key is diversified from a sealed, versioned
	// master secret and the card's serial; it exists only on the server.
	AdminKeyRandom AdminKeyMode = "random"
)

// PINPolicy bounds user PINs and the card's retry counters.
type PINPolicy struct {
	MinLength  int `json:"min_length"`
	MaxLength  int `json:"max_length"`
	PINRetries int `json:"pin_retries"`
	PUKRetries int `json:"puk_retries"`
}

// CardType is a family of cards and how to manage them.
type CardType struct {
	ID          int64        `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Kind        CardKind     `json:"kind"`
	ATRPatterns []string     `json:"atr_patterns"` // hex bytes, "xx" matches any byte, e.g. "3b f8 13 00 00 81 31 fe xx"
	AdminKey    AdminKeyKind `json:"admin_key_kind,omitempty"`
	AdminMode   AdminKeyMode `json:"admin_key_mode,omitempty"`
	// SealedSecrets is the sealed CardTypeSecrets (AES-GCM, internal/seal).
	// The API accepts secrets on write and never returns them; the Has*
	// flags say which are set.
	SealedSecrets      []byte         `json:"-"`
	HasDefaultAdminKey bool           `json:"has_default_admin_key"`
	HasDefaultUserPIN  bool           `json:"has_default_user_pin"`
	HasDefaultPUK      bool           `json:"has_default_puk"`
	PIN                PINPolicy      `json:"pin_policy"`
	KeyAlgorithms      []KeyAlgorithm `json:"key_algorithms"`
	SupportsInit       bool           `json:"supports_initialization"`
	CreatedAt          time.Time      `json:"created_at"`
	UpdatedAt          time.Time      `json:"updated_at"`
}

// Validate checks c against its kind's rules and fills nothing in.
func (c *CardType) Validate() error {
	if !validName(c.Name) {
		return Errorf(EInvalid, "card type name %q: use 1-64 letters, digits, '-', '_' or '.'", c.Name)
	}
	rules, ok := c.Kind.Rules()
	if !ok {
		return Errorf(EInvalid, "unknown card kind %q", c.Kind)
	}
	if len(c.KeyAlgorithms) == 0 {
		return Errorf(EInvalid, "card type %q: at least one key algorithm is required", c.Name)
	}
	for _, a := range c.KeyAlgorithms {
		if !slices.Contains(rules.KeyAlgorithms, a) {
			return Errorf(EInvalid, "card type %q: kind %s cannot hold %s keys", c.Name, c.Kind, a)
		}
	}
	if c.SupportsInit && !rules.InitializationAllowed {
		return Errorf(EInvalid, "card type %q: kind %s does not support initialization", c.Name, c.Kind)
	}
	if rules.HasAdminKey {
		if c.AdminKey.KeyLen() == 0 {
			return Errorf(EInvalid, "card type %q: admin key kind must be 3des, aes128, aes192 or aes256", c.Name)
		}
		if c.AdminMode != AdminKeyDefault && c.AdminMode != AdminKeyRandom {
			return Errorf(EInvalid, "card type %q: admin key mode must be default or random", c.Name)
		}
		// Guide: a TPM card can be unlocked only when its admin key is random
		// or a fixed Triple DES key.
		if c.Kind == KindTPMVirtualCard && c.AdminMode == AdminKeyDefault && c.AdminKey != AdminKey3DES {
			return Errorf(EInvalid, "card type %q: a TPM virtual smart card needs a random or a Triple DES admin key", c.Name)
		}
	}
	p := c.PIN
	maxPIN := 16
	if rules.HasAdminKey {
		maxPIN = 8 // SP 800-73-4 part 2, 3.2.1: a PIV PIN is at most 8 bytes
	}
	if p.MinLength < 4 || p.MaxLength > maxPIN || p.MinLength > p.MaxLength {
		return Errorf(EInvalid, "card type %q: PIN length range must lie within 4..%d with min <= max", c.Name, maxPIN)
	}
	if p.PINRetries < 1 || p.PINRetries > 255 || p.PUKRetries < 1 || p.PUKRetries > 255 {
		return Errorf(EInvalid, "card type %q: retries must be 1..255", c.Name)
	}
	for _, pat := range c.ATRPatterns {
		if _, _, err := ParseATRPattern(pat); err != nil {
			return err
		}
	}
	return nil
}

// CardTypeSecrets are the card type's default values that must stay
// secret: stored only sealed, never returned by the API, never logged.
type CardTypeSecrets struct {
	// AdminKey is the management key every card of the type uses in mode
	// "default"; in mode "random" it is the key blank cards arrive with,
	// which Lanyard replaces with the card's diversified key on takeover.
	AdminKey []byte `json:"admin_key,omitempty"`
	UserPIN  string `json:"user_pin,omitempty"`
	PUK      string `json:"puk,omitempty"`
}

// Validate checks s against the card type c.
func (s *CardTypeSecrets) Validate(c *CardType) error {
	if r, _ := c.Kind.Rules(); len(s.AdminKey) > 0 && !r.HasAdminKey {
		return Errorf(EInvalid, "card type %q: kind %s has no admin key", c.Name, c.Kind)
	}
	if len(s.AdminKey) > 0 && len(s.AdminKey) != c.AdminKey.KeyLen() {
		return Errorf(EInvalid, "card type %q: a %s admin key is %d bytes", c.Name, c.AdminKey, c.AdminKey.KeyLen())
	}
	if s.UserPIN != "" && !ValidPIN(s.UserPIN, c.PIN.MinLength, c.PIN.MaxLength) {
		return Errorf(EInvalid, "card type %q: default user PIN must be %d-%d printable characters", c.Name, c.PIN.MinLength, c.PIN.MaxLength)
	}
	if s.PUK != "" && !ValidPIN(s.PUK, 6, 8) {
		return Errorf(EInvalid, "card type %q: default PUK must be 6-8 printable characters", c.Name)
	}
	return nil
}

// ValidPIN reports whether pin is printable ASCII within the length range;
// SP 800-73-4 part 2, 3.2.1 stores PINs as up to 8 bytes of ASCII.
func ValidPIN(pin string, minLen, maxLen int) bool {
	if len(pin) < minLen || len(pin) > maxLen {
		return false
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < 0x20 || pin[i] > 0x7e {
			return false
		}
	}
	return true
}

// ParseATRPattern parses "3b f8 xx …" into value and mask bytes.
func ParseATRPattern(p string) (value, mask []byte, err error) {
	var digits []byte
	for i := 0; i < len(p); i++ {
		switch ch := p[i]; ch {
		case ' ', ':':
		default:
			if ch >= 'A' && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			digits = append(digits, ch)
		}
	}
	if len(digits) == 0 || len(digits)%2 != 0 || len(digits) > 66 {
		return nil, nil, Errorf(EInvalid, "ATR pattern %q: want 1-33 hex bytes, 'xx' for any", p)
	}
	for i := 0; i < len(digits); i += 2 {
		if digits[i] == 'x' && digits[i+1] == 'x' {
			value, mask = append(value, 0), append(mask, 0)
			continue
		}
		hi, ok1 := hexNibble(digits[i])
		lo, ok2 := hexNibble(digits[i+1])
		if !ok1 || !ok2 {
			return nil, nil, Errorf(EInvalid, "ATR pattern %q: bad hex byte %q", p, string(digits[i:i+2]))
		}
		value, mask = append(value, hi<<4|lo), append(mask, 0xff)
	}
	return value, mask, nil
}

// MatchATR reports whether atr matches any of the patterns.
func MatchATR(patterns []string, atr []byte) bool {
	for _, p := range patterns {
		v, m, err := ParseATRPattern(p)
		if err != nil || len(v) != len(atr) {
			continue
		}
		ok := true
		for i := range atr {
			if atr[i]&m[i] != v[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// validName accepts short identifiers used in URLs and CLI arguments.
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// ValidName reports whether s is usable as the name of a card type,
// template or policy: 1-64 letters, digits, '-', '_' or '.'.
func ValidName(s string) bool { return validName(s) }
