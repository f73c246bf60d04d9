package emu

import "github.com/lanyard-cms/lanyard/internal/card/pivspec"

// Key references (SP 800-73-4 Part 1, 3.1 and table 4; Part 2 table 4), as
// the bytes of P2 the card's command handlers switch on.
const (
	RefPIN                 = byte(pivspec.KeyPIN)
	RefPUK                 = byte(pivspec.KeyPUK)
	SlotAuthentication     = byte(pivspec.SlotAuthentication)
	SlotManagement         = byte(pivspec.KeyAdmin)
	SlotSignature          = byte(pivspec.SlotSignature)
	SlotKeyManagement      = byte(pivspec.SlotKeyManagement)
	SlotCardAuthentication = byte(pivspec.SlotCardAuthentication)
	SlotAttestation        = byte(pivspec.SlotAttestation)
)

// PINPolicy says when a slot's private key needs the PIN (tag AA).
type PINPolicy = pivspec.PINPolicy

// TouchPolicy is the YubiKey touch policy (tag AB). The emulator records
// and reports it; there is nothing to touch.
type TouchPolicy = pivspec.TouchPolicy

// Origin says how a key got into its slot (GET METADATA tag 03).
type Origin = pivspec.Origin

// isKeySlot reports whether ref names an asymmetric key slot that GENERAL
// AUTHENTICATE may use: 9A, 9C, 9D, 9E and the retired 82 to 95.
func isKeySlot(ref byte) bool {
	s := pivspec.Slot(ref)
	return s.Valid() && s != pivspec.SlotAttestation
}

// defaultPINPolicy is a YubiKey's default per slot: the PIN before every
// signature with the Digital Signature key (SP 800-73-4 Part 1, 3.2.2 "PIN
// Always"), never for Card Authentication (3.2.4, usable without the
// cardholder), once per session otherwise.
func defaultPINPolicy(ref byte) PINPolicy {
	switch ref {
	case SlotSignature:
		return pivspec.PINPolicyAlways
	case SlotCardAuthentication, SlotAttestation:
		return pivspec.PINPolicyNever
	}
	return pivspec.PINPolicyOnce
}

// resolvePolicies replaces default policies by the slot's actual ones.
func resolvePolicies(ref byte, pin PINPolicy, touch TouchPolicy) (PINPolicy, TouchPolicy) {
	if pin == pivspec.PINPolicyDefault {
		pin = defaultPINPolicy(ref)
	}
	if touch == pivspec.TouchPolicyDefault {
		touch = pivspec.TouchPolicyNever
	}
	return pin, touch
}
