package pivspec

// PINPolicy says when a key needs the PIN (YubiKey extension: tag AA of
// GENERATE ASYMMETRIC KEY PAIR and IMPORT KEY, byte 1 of GET METADATA's
// tag 02).
type PINPolicy byte

// PIN policies; PINPolicyDefault leaves the choice to the card (YubiKeys:
// always for slot 9C, never for 9E, once per session otherwise).
const (
	PINPolicyDefault PINPolicy = 0x00
	PINPolicyNever   PINPolicy = 0x01
	PINPolicyOnce    PINPolicy = 0x02 // once per session (until reset or SELECT)
	PINPolicyAlways  PINPolicy = 0x03 // verified immediately before each use
)

// TouchPolicy says when a key needs a touch of the token (YubiKey
// extension: tag AB, byte 2 of GET METADATA's tag 02).
type TouchPolicy byte

// Touch policies; TouchPolicyDefault leaves the choice to the card.
const (
	TouchPolicyDefault TouchPolicy = 0x00
	TouchPolicyNever   TouchPolicy = 0x01
	TouchPolicyAlways  TouchPolicy = 0x02
	TouchPolicyCached  TouchPolicy = 0x03 // for 15 seconds after a touch
)

// Origin says how a key got into its slot (YubiKey extension: GET
// METADATA tag 03).
type Origin byte

// Key origins.
const (
	OriginGenerated Origin = 0x01
	OriginImported  Origin = 0x02
)
