package ca

import (
	"encoding/hex"
	"testing"
)

// TestMarshalSANGolden pins the encoding byte for byte, worked out by hand
// from RFC 5280 4.2.1.6 (GeneralNames, IMPLICIT tags) and Microsoft's UPN
// otherName, and checks the criticality rule.
func TestMarshalSANGolden(t *testing.T) {
	const want = "301a" + // GeneralNames SEQUENCE, 26 bytes
		"a013" + // otherName [0] IMPLICIT SEQUENCE, 19 bytes
		"060a2b0601040182371402" + "03" + // type-id 1.3.6.1.4.1.311.20.2.3
		"a005" + "0c03614062" + // value [0] EXPLICIT UTF8String "a@b"
		"8103634064" // rfc822Name [1] IMPLICIT IA5String "c@d"
	for _, subjectEmpty := range []bool{false, true} {
		ext, err := marshalSAN("a@b", "c@d", subjectEmpty)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(ext.Value); got != want {
			t.Errorf("SAN = %s\nwant  %s", got, want)
		}
		if !ext.Id.Equal(oidExtensionSubjectAltName) {
			t.Errorf("extension id %v", ext.Id)
		}
		// RFC 5280 4.2.1.6: critical exactly when the subject is empty.
		if ext.Critical != subjectEmpty {
			t.Errorf("subject empty %v: critical = %v", subjectEmpty, ext.Critical)
		}
	}
	ext, err := marshalSAN("", "c@d", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(ext.Value); got != "30058103634064" {
		t.Errorf("e-mail only SAN = %s", got)
	}
}
