package piv

import "fmt"

// PINPolicy says when a key needs the PIN (YubiKey extension to GENERATE
// ASYMMETRIC KEY PAIR and IMPORT KEY, tag AA).
type PINPolicy byte

// PIN policies; PINPolicyDefault leaves the choice to the card (for slot
// 9C: always, for 9E: never, otherwise once per session).
const (
	PINPolicyDefault PINPolicy = 0
	PINPolicyNever   PINPolicy = 1
	PINPolicyOnce    PINPolicy = 2
	PINPolicyAlways  PINPolicy = 3
)

// TouchPolicy says when a key needs a touch of the token (tag AB).
type TouchPolicy byte

// Touch policies; TouchPolicyDefault leaves the choice to the card.
const (
	TouchPolicyDefault TouchPolicy = 0
	TouchPolicyNever   TouchPolicy = 1
	TouchPolicyAlways  TouchPolicy = 2
	TouchPolicyCached  TouchPolicy = 3
)

// KeyPolicy is the PIN and touch policy of a generated or imported key.
// The zero value sends neither and keeps the card's defaults, which is
// what cards without the YubiKey extension need.
type KeyPolicy struct {
	PIN   PINPolicy
	Touch TouchPolicy
}

// append appends the policy tags AA and AB that are not default.
func (p KeyPolicy) append(dst []byte) ([]byte, error) {
	if p.PIN > PINPolicyAlways {
		return nil, fmt.Errorf("unknown PIN policy %d", p.PIN)
	}
	if p.Touch > TouchPolicyCached {
		return nil, fmt.Errorf("unknown touch policy %d", p.Touch)
	}
	if p.PIN != PINPolicyDefault {
		dst = append(dst, 0xAA, 0x01, byte(p.PIN))
	}
	if p.Touch != TouchPolicyDefault {
		dst = append(dst, 0xAB, 0x01, byte(p.Touch))
	}
	return dst, nil
}
