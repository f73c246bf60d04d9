package emu

// Key references (SP 800-73-4 Part 1, 3.1 and table 4; Part 2 table 4).
const (
	RefPIN                 = 0x80 // PIV Card Application PIN
	RefPUK                 = 0x81 // PIN Unblocking Key
	SlotAuthentication     = 0x9A // PIV Authentication key
	SlotManagement         = 0x9B // PIV Card Application Administration (management) key
	SlotSignature          = 0x9C // Digital Signature key
	SlotKeyManagement      = 0x9D // Key Management key
	SlotCardAuthentication = 0x9E // Card Authentication key
	SlotRetiredFirst       = 0x82 // first retired Key Management key
	SlotRetiredLast        = 0x95 // last (20th) retired Key Management key
	SlotAttestation        = 0xF9 // Yubico: the attestation key
)

// PINPolicy says when a slot's private key needs the PIN, as YubiKeys
// encode it in GENERATE, IMPORT KEY and GET METADATA (tag AA).
type PINPolicy byte

// PIN policies.
const (
	PINPolicyDefault PINPolicy = 0x00 // the slot's default (see defaultPINPolicy)
	PINPolicyNever   PINPolicy = 0x01
	PINPolicyOnce    PINPolicy = 0x02 // once per session (until reset or SELECT)
	PINPolicyAlways  PINPolicy = 0x03 // verified immediately before each use
)

// TouchPolicy is the YubiKey touch policy (tag AB). The emulator records
// and reports it; there is nothing to touch.
type TouchPolicy byte

// Touch policies.
const (
	TouchPolicyDefault TouchPolicy = 0x00
	TouchPolicyNever   TouchPolicy = 0x01
	TouchPolicyAlways  TouchPolicy = 0x02
	TouchPolicyCached  TouchPolicy = 0x03
)

// Origin says how a key got into its slot (GET METADATA tag 03).
type Origin byte

// Key origins.
const (
	OriginGenerated Origin = 0x01
	OriginImported  Origin = 0x02
)

// isKeySlot reports whether ref names an asymmetric key slot that GENERAL
// AUTHENTICATE may use: 9A, 9C, 9D, 9E and the retired 82 to 95.
func isKeySlot(ref byte) bool {
	switch ref {
	case SlotAuthentication, SlotSignature, SlotKeyManagement, SlotCardAuthentication:
		return true
	}
	return ref >= SlotRetiredFirst && ref <= SlotRetiredLast
}

// defaultPINPolicy is a YubiKey's default per slot: the PIN before every
// signature with the Digital Signature key (SP 800-73-4 Part 1, 3.2.2 "PIN
// Always"), never for Card Authentication (3.2.4, usable without the
// cardholder), once per session otherwise.
func defaultPINPolicy(ref byte) PINPolicy {
	switch ref {
	case SlotSignature:
		return PINPolicyAlways
	case SlotCardAuthentication, SlotAttestation:
		return PINPolicyNever
	}
	return PINPolicyOnce
}

// resolvePolicies replaces default policies by the slot's actual ones.
func resolvePolicies(ref byte, pin PINPolicy, touch TouchPolicy) (PINPolicy, TouchPolicy) {
	if pin == PINPolicyDefault {
		pin = defaultPINPolicy(ref)
	}
	if touch == TouchPolicyDefault {
		touch = TouchPolicyNever
	}
	return pin, touch
}
