package emu

import (
	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// MaxObjectSize is the largest data object value PUT DATA accepts. SP
// 800-73-4 Part 1 appendix A sizes the largest certificate container at
// 1,858 bytes and a YubiKey 5 takes about 3 KB per object; 16 KiB leaves
// room for RSA 4096 certificates with long chains of extensions.
const MaxObjectSize = 16 << 10

// knownObject reports whether tag names a data object the card stores: the
// BER-TLV tags 5FC101 to 5FC123 of SP 800-73-4 Part 1 table 3, the
// Discovery object 7E, the BIT group template 7F61, and Yubico's objects
// 5FFF00 to 5FFF15 (attestation certificate, admin data, ...).
func knownObject(tag uint32) bool {
	switch {
	case tag == pivspec.ObjectDiscovery || tag == pivspec.ObjectBITGroup:
		return true
	case tag >= 0x5FC101 && tag <= 0x5FC123:
		return true
	case tag >= 0x5FFF00 && tag <= 0x5FFF15:
		return true
	}
	return false
}

// unwrapped reports whether the object is stored and returned as its own
// TLV rather than inside a 53 container (SP 800-73-4 Part 1, 3.3.2 and
// 3.5: the Discovery object and the BIT group template).
func unwrapped(tag uint32) bool {
	return tag == pivspec.ObjectDiscovery || tag == pivspec.ObjectBITGroup
}

// readNeedsPIN reports whether GET DATA of tag needs the PIN verified: the
// objects whose read access rule in SP 800-73-4 Part 1 table 3 is "PIN" or
// "PIN or OCC" (fingerprints, facial image, printed information, iris
// images, pairing code reference data). Everything else is "Always"; every
// write needs the management key (Part 2, 3.3.1).
func readNeedsPIN(tag uint32) bool {
	switch tag {
	case 0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121, 0x5FC123:
		return true
	}
	return false
}

// fascnNoAgency is the FASC-N that cards outside the US federal government
// carry (agency code 9999, system 9999, credential 999999), as issuers such
// as Yubico write it: SP 800-73-4 Part 1 table 9 requires the field.
var fascnNoAgency = []byte{
	0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68,
	0x58, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB,
}

// newCHUID builds the Card Holder Unique Identifier (SP 800-73-4 Part 1,
// 3.1.2 and table 9): FASC-N, GUID, expiration date, an empty issuer
// signature (the card is not issued by a federal PKI) and the error
// detection code. OpenSC derives the card's serial number from the GUID.
func newCHUID(guid [16]byte) []byte {
	return apdu.AppendTLVs(nil,
		apdu.TLV{Tag: 0x30, Value: fascnNoAgency},
		apdu.TLV{Tag: 0x34, Value: guid[:]},
		apdu.TLV{Tag: 0x35, Value: []byte("20991231")},
		apdu.TLV{Tag: 0x3E},
		apdu.TLV{Tag: 0xFE},
	)
}

// newCCC builds the Card Capability Container (SP 800-73-4 Part 1, 3.1.1
// and table 8) with a card identifier made of the GSC-RID A0 00 00 01 16,
// manufacturer FF, card type 02 and 14 random bytes.
func newCCC(cardID [14]byte) []byte {
	id := append([]byte{0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02}, cardID[:]...)
	return apdu.AppendTLVs(nil,
		apdu.TLV{Tag: 0xF0, Value: id},
		apdu.TLV{Tag: 0xF1, Value: []byte{0x21}}, // capability container version
		apdu.TLV{Tag: 0xF2, Value: []byte{0x21}}, // capability grammar version
		apdu.TLV{Tag: 0xF3},                      // applications CardURL
		apdu.TLV{Tag: 0xF4, Value: []byte{0x00}}, // PKCS#15: none
		apdu.TLV{Tag: 0xF5, Value: []byte{0x10}}, // registered data model 10
		apdu.TLV{Tag: 0xF6},                      // access control rule table
		apdu.TLV{Tag: 0xF7},                      // card APDUs
		apdu.TLV{Tag: 0xFA},                      // redirection tag
		apdu.TLV{Tag: 0xFB},                      // capability tuples
		apdu.TLV{Tag: 0xFC},                      // status tuples
		apdu.TLV{Tag: 0xFD},                      // next CCC
		apdu.TLV{Tag: 0xFE},                      // error detection code
	)
}

// newDiscovery builds the Discovery object (SP 800-73-4 Part 1, 3.3.2 and
// table 18): the PIV AID and the PIN usage policy 40 00, "the PIV Card
// Application PIN satisfies the PIV access control rules; no global PIN".
// OpenSC reads it to learn that the PIV application is selected; without
// it, it selects the application again before each operation, which resets
// the PIN's security status.
func newDiscovery() []byte {
	inner := apdu.AppendTLVs(nil,
		apdu.TLV{Tag: pivspec.TagAID, Value: pivspec.AID()},
		apdu.TLV{Tag: 0x5F2F, Value: []byte{0x40, 0x00}},
	)
	return apdu.AppendTLV(nil, pivspec.ObjectDiscovery, inner)
}

// certContainer builds the value of a certificate data object (SP 800-73-4
// Part 1 table 10 and following): the certificate, CertInfo 00
// (uncompressed) and the empty error detection code.
func certContainer(der []byte) []byte {
	return apdu.AppendTLVs(nil,
		apdu.TLV{Tag: 0x70, Value: der},
		apdu.TLV{Tag: 0x71, Value: []byte{0x00}},
		apdu.TLV{Tag: 0xFE},
	)
}
