package ca

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrNoUPN is CertificateUPN's error for a certificate that names no
// user principal name.
var ErrNoUPN = errors.New("the certificate names no user principal name")

// CertificateUPN returns the user principal name in cert's
// subjectAltName (the otherName marshalSAN writes): the name smart card
// sign-in maps to an account, as Windows does. ErrNoUPN when there is
// none; an error when the extension is malformed, names more than one
// UPN (which account would be meant?) or a UPN that is not name@suffix
// in UTF-8 without controls or spaces (validUPN, what Lanyard issues).
func CertificateUPN(cert *x509.Certificate) (string, error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidExtensionSubjectAltName) {
			continue
		}
		upns, err := ParseSANUPNs(ext.Value)
		if err != nil {
			return "", err
		}
		switch {
		case len(upns) == 0:
			return "", ErrNoUPN
		case len(upns) > 1:
			return "", errors.New("the certificate names more than one user principal name")
		case !validUPN(upns[0]):
			return "", errors.New("the certificate's user principal name is not of the form name@suffix")
		}
		return upns[0], nil
	}
	return "", ErrNoUPN
}

// ParseSANUPNs returns the UPN otherNames of a subjectAltName
// extension's DER value (RFC 5280 4.2.1.6, IMPLICIT tags):
//
//	GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName
//	otherName    [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT ANY }
//
// with Microsoft's UPN type-id 1.3.6.1.4.1.311.20.2.3 and a UTF8String
// value. Other names are skipped; each element must still be well-formed
// DER, with nothing after the sequence or inside an otherName after its
// value. A UPN's value that is not a valid UTF8String is an error, not
// skipped: a certificate that means to name an account and does so
// badly must not sign anyone in.
func ParseSANUPNs(der []byte) ([]string, error) {
	bad := errors.New("the certificate's subject alternative name is malformed")
	in := cryptobyte.String(der)
	var names cryptobyte.String
	if !in.ReadASN1(&names, cbasn1.SEQUENCE) || !in.Empty() || names.Empty() {
		return nil, bad
	}
	otherName := cbasn1.Tag(0).ContextSpecific().Constructed()
	explicit0 := cbasn1.Tag(0).ContextSpecific().Constructed()
	var upns []string
	for !names.Empty() {
		var name cryptobyte.String
		var tag cbasn1.Tag
		if !names.ReadAnyASN1(&name, &tag) {
			return nil, bad
		}
		if tag != otherName {
			continue
		}
		var typeID asn1.ObjectIdentifier
		var value cryptobyte.String
		if !name.ReadASN1ObjectIdentifier(&typeID) || !name.ReadASN1(&value, explicit0) || !name.Empty() {
			return nil, bad
		}
		if !typeID.Equal(OIDOtherNameUPN) {
			continue
		}
		var s cryptobyte.String
		if !value.ReadASN1(&s, cbasn1.UTF8String) || !value.Empty() || !utf8.Valid(s) {
			return nil, errors.New("the certificate's user principal name is not a UTF8String")
		}
		upns = append(upns, string(s))
	}
	return upns, nil
}
