package pivspec

import "fmt"

// KeyRef is a key reference of SP 800-73-4 Part 1 table 4 and Part 2
// table 4: the P2 of VERIFY, CHANGE REFERENCE DATA, GENERAL AUTHENTICATE,
// GENERATE ASYMMETRIC KEY PAIR and GET METADATA.
type KeyRef byte

// Key references that are not asymmetric key slots.
const (
	KeyPIN   KeyRef = 0x80 // PIV Card Application PIN
	KeyPUK   KeyRef = 0x81 // PIN Unblocking Key
	KeyAdmin KeyRef = 0x9B // PIV Card Application Administration Key (the management key)
)

// String returns a short name, for example "PIN", "management key" or
// "key 9A (PIV Authentication)".
func (r KeyRef) String() string {
	switch r {
	case KeyPIN:
		return "PIN"
	case KeyPUK:
		return "PUK"
	case KeyAdmin:
		return "management key"
	}
	if s := Slot(r); s.Valid() {
		return "key " + s.String()
	}
	return fmt.Sprintf("key reference %02X", byte(r))
}

// Slot is an asymmetric key slot: its key reference, with the data object
// that holds the slot's certificate (SP 800-73-4 Part 1 tables 3 and 4).
// The retired key management slots 82 to 95 keep earlier key management
// keys for decrypting old data. F9 is YubiKey's attestation slot, whose
// key signs ATTEST statements.
type Slot byte

// Key slots (SP 800-73-4 Part 1 3.1 and table 4).
const (
	SlotAuthentication     Slot = 0x9A // PIV Authentication Key
	SlotSignature          Slot = 0x9C // Digital Signature Key
	SlotKeyManagement      Slot = 0x9D // Key Management Key
	SlotCardAuthentication Slot = 0x9E // Card Authentication Key
	SlotRetiredFirst       Slot = 0x82 // Retired Key Management Key 1
	SlotRetiredLast        Slot = 0x95 // Retired Key Management Key 20
	SlotAttestation        Slot = 0xF9 // YubiKey: the attestation key
)

// RetiredSlot returns the retired key management slot n, 1 to 20 (keys 82
// to 95).
func RetiredSlot(n int) (Slot, bool) {
	if n < 1 || n > 20 {
		return 0, false
	}
	return SlotRetiredFirst + Slot(n-1), true
}

// CertificateSlots returns the slots that can hold a certificate of the
// cardholder: 9A, 9C, 9D, 9E, then 82 to 95.
func CertificateSlots() []Slot {
	slots := []Slot{SlotAuthentication, SlotSignature, SlotKeyManagement, SlotCardAuthentication}
	for s := SlotRetiredFirst; s <= SlotRetiredLast; s++ {
		slots = append(slots, s)
	}
	return slots
}

// Valid reports whether s is one of the slots above.
func (s Slot) Valid() bool { return s.Object() != 0 }

// Retired reports whether s is one of the retired key management slots 82
// to 95.
func (s Slot) Retired() bool { return s >= SlotRetiredFirst && s <= SlotRetiredLast }

// Ref returns s as a key reference.
func (s Slot) Ref() KeyRef { return KeyRef(s) }

// Object returns the ID of the data object that holds the certificate for
// s, or 0 if s is not a slot: 5FC105 for 9A, 5FC10A for 9C, 5FC10B for 9D,
// 5FC101 for 9E, 5FC10D to 5FC120 for 82 to 95 (SP 800-73-4 Part 1 table
// 3) and, as YubiKeys store it, 5FFF01 for F9.
func (s Slot) Object() uint32 {
	switch s {
	case SlotAuthentication:
		return 0x5FC105
	case SlotSignature:
		return 0x5FC10A
	case SlotKeyManagement:
		return 0x5FC10B
	case SlotCardAuthentication:
		return 0x5FC101
	case SlotAttestation:
		return ObjectAttestation
	}
	if s.Retired() {
		return 0x5FC10D + uint32(s-SlotRetiredFirst)
	}
	return 0
}

// String returns the key reference in hex with the slot's name, for
// example "9C (Digital Signature)".
func (s Slot) String() string {
	switch s {
	case SlotAuthentication:
		return "9A (PIV Authentication)"
	case SlotSignature:
		return "9C (Digital Signature)"
	case SlotKeyManagement:
		return "9D (Key Management)"
	case SlotCardAuthentication:
		return "9E (Card Authentication)"
	case SlotAttestation:
		return "F9 (Attestation)"
	}
	if s.Retired() {
		return fmt.Sprintf("%02X (Retired Key Management %d)", byte(s), s-SlotRetiredFirst+1)
	}
	return fmt.Sprintf("%02X (not a PIV key slot)", byte(s))
}

// Data objects (SP 800-73-4 Part 1 table 3; 5FFF01 is YubiKey's). The
// certificates' objects are reached through their Slot.
const (
	ObjectCHUID        uint32 = 0x5FC102 // Card Holder Unique Identifier
	ObjectCCC          uint32 = 0x5FC107 // Card Capability Container
	ObjectDiscovery    uint32 = 0x7E     // Discovery Object
	ObjectKeyHistory   uint32 = 0x5FC10C // Key History Object
	ObjectPrintedInfo  uint32 = 0x5FC109 // Printed Information
	ObjectSecurity     uint32 = 0x5FC106 // Security Object
	ObjectFacialImage  uint32 = 0x5FC108 // Cardholder Facial Image
	ObjectFingerprints uint32 = 0x5FC103 // Cardholder Fingerprints
	ObjectBITGroup     uint32 = 0x7F61   // Biometric Information Templates Group Template
	ObjectAttestation  uint32 = 0x5FFF01 // YubiKey: the attestation key's certificate
)
