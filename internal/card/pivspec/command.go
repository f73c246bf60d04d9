package pivspec

// Instructions (SP 800-73-4 Part 2 table 5, and YubiKey's vendor
// instructions from GetMetadata on).
const (
	InsSelect          = 0xA4 // SELECT (Part 2 3.1.1)
	InsGetData         = 0xCB // GET DATA (3.1.2)
	InsVerify          = 0x20 // VERIFY (3.2.1)
	InsChangeReference = 0x24 // CHANGE REFERENCE DATA (3.2.2)
	InsResetRetry      = 0x2C // RESET RETRY COUNTER (3.2.3)
	InsGeneralAuth     = 0x87 // GENERAL AUTHENTICATE (3.2.4)
	InsPutData         = 0xDB // PUT DATA (3.3.1)
	InsGenerateKey     = 0x47 // GENERATE ASYMMETRIC KEY PAIR (3.3.2)

	InsMoveKey          = 0xF6 // YubiKey 5.7: MOVE KEY (P1 FF: DELETE KEY)
	InsGetMetadata      = 0xF7 // YubiKey 5.3: GET METADATA
	InsGetSerial        = 0xF8 // YubiKey: GET SERIAL
	InsAttest           = 0xF9 // YubiKey: ATTEST
	InsSetRetries       = 0xFA // YubiKey: SET PIN RETRIES
	InsReset            = 0xFB // YubiKey: RESET (PIN and PUK blocked)
	InsGetVersion       = 0xFD // YubiKey: GET VERSION
	InsImportKey        = 0xFE // YubiKey: IMPORT KEY
	InsSetManagementKey = 0xFF // YubiKey: SET MANAGEMENT KEY
)

// Lanyard's vendor instructions for offline PIN unblock on its own cards
// (docs/lifecycle.md, "Offline unblock"). They use the proprietary class
// (ISO/IEC 7816-4, 5.1.1: b8 of CLA set) so that no standard card mistakes
// them for its own; a standard card answers 6E00 (class not supported) or
// 6D00, which is how a client tells the two apart. The INS values mirror
// ISO's GET CHALLENGE and RESET RETRY COUNTER.
const (
	ClaLanyard = 0x80

	// InsGetUnblockChallenge (80 84 00 80): the card's pending offline
	// unblock challenge, a new one when none is pending or it expired.
	// Answer: C0 09 payload (70 bits, right-aligned) ‖ C2 04 seconds left;
	// on a TPM virtual card the armed code's challenge ‖ C3 01 tries left
	// (InsArmOfflineUnblock). 6985 when the card cannot be unblocked
	// offline now (its management key is still the factory default; a
	// TPM card holds no unused code); 6A81 on a TPM card made before
	// offline unblock, which never can.
	InsGetUnblockChallenge = 0x84
	// InsUnblockWithResponse (80 2C 00 80): counter (2) ‖ response (9) ‖
	// new PIN (8, FF-padded). Any attempt consumes the pending challenge;
	// a right response sets the PIN and restores its tries.
	InsUnblockWithResponse = 0x2C
	// InsSetOfflineKey (80 2A 00 80): the 32-byte key the card checks
	// offline unblock responses with (HMAC-SHA256). Needs the management
	// key authenticated: the server sets it when the card has a key of
	// its own, so a card on a shared or default management key never
	// accepts an offline unblock. Until it is set, GET UNBLOCK CHALLENGE
	// answers 6985.
	InsSetOfflineKey = 0x2A
	// InsArmOfflineUnblock (80 24 00 80): on a TPM virtual card, the
	// one-time code its TPM will check (scheme lanyard-tpm). Data: PUK (8,
	// FF-padded) ‖ counter (2) ‖ nonce (5, 36 bits) ‖ code (9, 70 bits).
	// Needs the management key authenticated, and the PUK, which the TPM
	// checks; a wrong PUK is 63CX on the PUK's counter. 6A81 on a card
	// whose PIN guard cannot hold a code (a TPM card made before offline
	// unblock, or a card without a TPM). The INS mirrors ISO's CHANGE
	// REFERENCE DATA: it sets the unblock code's reference data. 80 2A is
	// SET OFFLINE KEY, which a TPM card refuses (6A81): its offline
	// unblock is not checked in software.
	InsArmOfflineUnblock = 0x24
	// ArmedCodeTries is how many responses a TPM virtual card takes for
	// one armed code: more than one, since re-arming needs the server.
	ArmedCodeTries = 3

	// TagUnblockChallenge, TagUnblockSecondsLeft tag the fields of the
	// GET UNBLOCK CHALLENGE answer.
	TagUnblockChallenge   = 0xC0
	TagUnblockSecondsLeft = 0xC2
	// TagUnblockTriesLeft: a TPM virtual card's armed code has no
	// expiry; it answers the tries left for it instead of C2.
	TagUnblockTriesLeft = 0xC3
)

// Tags of the application property template that SELECT returns (SP
// 800-73-4 Part 2 3.1.1, table 3).
const (
	TagApplication = 0x61   // application property template
	TagAID         = 0x4F   // application identifier (the PIX, or the AID)
	TagAuthority   = 0x79   // coexistent tag allocation authority, holding a 4F
	TagLabel       = 0x50   // application label
	TagURL         = 0x5F50 // uniform resource locator
	TagAlgorithms  = 0xAC   // cryptographic algorithms supported: 80 each, then 06
)

// Tags of GET DATA and PUT DATA (SP 800-73-4 Part 2 3.1.2 and 3.3.1).
const (
	TagObjectID = 0x5C // tag list: the ID of the data object
	TagData     = 0x53 // the data object's contents
)

// MoveKeyDelete is MOVE KEY's P1 that deletes the key in the slot P2
// instead of moving it (YubiKey 5.7: 00 F6 FF <slot>).
const MoveKeyDelete = 0xFF

// Tags of a certificate data object (SP 800-73-4 Part 1 appendix A, table
// 10 for the PIV Authentication certificate and its siblings).
const (
	TagCertificate = 0x70 // the X.509 certificate, DER
	TagCertInfo    = 0x71 // CertInfo: 00 plain, 01 gzip-compressed
	TagErrorDetect = 0xFE // error detection code, always empty
)

// Tags of the dynamic authentication template of GENERAL AUTHENTICATE
// (SP 800-73-4 Part 2 3.2.4, table 7).
const (
	TagDynamicAuth = 0x7C // the template
	TagWitness     = 0x80 // witness: management key authentication
	TagChallenge   = 0x81 // challenge; the data to sign or decrypt
	TagResponse    = 0x82 // response; 82 00 asks the card for one
	TagExponent    = 0x85 // exponentiation: the peer's public point for ECDH
)

// Tags of GENERATE ASYMMETRIC KEY PAIR (SP 800-73-4 Part 2 3.3.2, tables
// 10 and 11) and of YubiKey's IMPORT KEY.
const (
	TagKeyControl  = 0xAC   // control reference template
	TagAlgorithm   = 0x80   // in AC: the algorithm
	TagPINPolicy   = 0xAA   // YubiKey: PIN policy
	TagTouchPolicy = 0xAB   // YubiKey: touch policy
	TagPublicKey   = 0x7F49 // public key data object (table 12)
	TagRSAModulus  = 0x81   // in 7F49: RSA modulus
	TagRSAExponent = 0x82   // in 7F49: RSA public exponent
	TagECPoint     = 0x86   // in 7F49: uncompressed EC point
)

// Tags of YubiKey's IMPORT KEY: an RSA key's CRT components, each as long
// as half the modulus, or an EC key's private scalar.
const (
	TagImportP        = 0x01
	TagImportQ        = 0x02
	TagImportDP       = 0x03
	TagImportDQ       = 0x04
	TagImportQInv     = 0x05
	TagImportECScalar = 0x06
)

// Tags of YubiKey's GET METADATA response (firmware 5.3 on).
const (
	MetaAlgorithm = 0x01 // Algorithm; AlgPIN for the PIN and PUK
	MetaPolicy    = 0x02 // PINPolicy, TouchPolicy
	MetaOrigin    = 0x03 // Origin
	MetaPublicKey = 0x04 // the objects of a 7F49 template
	MetaDefault   = 0x05 // 01: the factory value is still set
	MetaRetries   = 0x06 // retry count, tries left
)

// Factory PIN and PUK of PIV cards and YubiKeys, which the Lanyard
// emulator starts with too.
const (
	DefaultPIN = "123456"
	DefaultPUK = "12345678"
)

// DefaultManagementKey returns the 3DES management key PIV cards and
// YubiKeys leave the factory with, and the Lanyard emulator starts with:
// 0102030405060708 three times. Each call returns a new slice.
func DefaultManagementKey() []byte {
	return []byte{
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
	}
}

// ridLen is the length of the registered application provider
// identifier, NIST's A0 00 00 03 08.
const ridLen = 5

// AID returns the full application identifier of the PIV Card
// Application: the NIST RID A0 00 00 03 08 followed by the PIX 00 00 10 00
// 01 00, version 01 00 (SP 800-73-4 Part 1 2.2). Each call returns a new
// slice.
func AID() []byte {
	return []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
}

// RID returns the right-truncated AID clients select, A0 00 00 03 08.
// Each call returns a new slice.
func RID() []byte { return AID()[:ridLen] }

// PIX returns the AID after the RID, 00 00 10 00 01 00, as cards return it
// in the application property template. Each call returns a new slice.
func PIX() []byte { return AID()[ridLen:] }
