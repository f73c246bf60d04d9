package piv

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// PINPolicy says when a key needs the PIN (YubiKey extension, tag AA).
type PINPolicy = pivspec.PINPolicy

// TouchPolicy says when a key needs a touch of the token (tag AB).
type TouchPolicy = pivspec.TouchPolicy

// KeyPolicy is the PIN and touch policy of a generated or imported key.
// The zero value sends neither and keeps the card's defaults, which is
// what cards without the YubiKey extension need.
type KeyPolicy struct {
	PIN   PINPolicy
	Touch TouchPolicy
}

// append appends the policy tags AA and AB that are not default.
func (p KeyPolicy) append(dst []byte) ([]byte, error) {
	if p.PIN > pivspec.PINPolicyAlways {
		return nil, fmt.Errorf("unknown PIN policy %d", p.PIN)
	}
	if p.Touch > pivspec.TouchPolicyCached {
		return nil, fmt.Errorf("unknown touch policy %d", p.Touch)
	}
	if p.PIN != pivspec.PINPolicyDefault {
		dst = append(dst, pivspec.TagPINPolicy, 0x01, byte(p.PIN))
	}
	if p.Touch != pivspec.TouchPolicyDefault {
		dst = append(dst, pivspec.TagTouchPolicy, 0x01, byte(p.Touch))
	}
	return dst, nil
}
