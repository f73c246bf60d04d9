package ca

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var (
	oidExtensionSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}
	// OIDOtherNameUPN is Microsoft's user principal name otherName
	// (szOID_NT_PRINCIPAL_NAME). Windows maps a smart card logon
	// certificate to an account by it.
	OIDOtherNameUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}
)

// GeneralName tags (RFC 5280 4.2.1.6); the module uses IMPLICIT tagging.
const (
	tagOtherName  = 0
	tagRFC822Name = 1
)

// subjectAltName builds the subjectAltName extension the template asks for;
// ok is false when it asks for none.
//
// crypto/x509 cannot express otherName, so the whole extension is encoded
// here and handed to x509.CreateCertificate through ExtraExtensions (which
// then adds no SAN of its own).
func subjectAltName(t *lanyard.Template, u *lanyard.User, subjectEmpty bool) (ext pkix.Extension, ok bool, err error) {
	var upn, email string
	if t.Subject.SANUPN {
		if u.UPN == "" {
			return ext, false, lanyard.Errorf(lanyard.EInvalid, "template %q puts the user principal name in the certificate, but user %q has no UPN", t.Name, u.Login)
		}
		if !validUPN(u.UPN) {
			return ext, false, lanyard.Errorf(lanyard.EInvalid, "user %q: UPN %q is not of the form name@suffix", u.Login, u.UPN)
		}
		upn = u.UPN
	}
	if t.Subject.SANEmail {
		if u.Email == "" {
			return ext, false, lanyard.Errorf(lanyard.EInvalid, "template %q puts the e-mail address in the certificate, but user %q has none", t.Name, u.Login)
		}
		if !validMailbox(u.Email) {
			// RFC 5280 4.2.1.6: rfc822Name is an IA5String Mailbox; non-ASCII
			// addresses would need SmtpUTF8Mailbox (RFC 9598).
			return ext, false, lanyard.Errorf(lanyard.EInvalid, "user %q: e-mail address %q is not an ASCII address of the form local@domain", u.Login, u.Email)
		}
		email = u.Email
	}
	if upn == "" && email == "" {
		return ext, false, nil
	}
	ext, err = marshalSAN(upn, email, subjectEmpty)
	return ext, err == nil, err
}

// marshalSAN encodes GeneralNames (RFC 5280 4.2.1.6) holding an otherName
// UPN and/or an rfc822Name; empty arguments are left out.
//
//	otherName  [0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }
//	rfc822Name [1] IMPLICIT IA5String
//
// RFC 5280 4.2.1.6: the extension is critical when the subject is empty,
// and non-critical otherwise.
func marshalSAN(upn, email string, subjectEmpty bool) (pkix.Extension, error) {
	var names []asn1.RawValue
	if upn != "" {
		oid, err := asn1.Marshal(OIDOtherNameUPN)
		if err != nil {
			return pkix.Extension{}, lanyard.Wrap(lanyard.EInternal, err, "encoding the UPN")
		}
		str, err := asn1.MarshalWithParams(upn, "utf8")
		if err != nil {
			return pkix.Extension{}, lanyard.Wrap(lanyard.EInternal, err, "encoding the UPN")
		}
		value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: str})
		if err != nil {
			return pkix.Extension{}, lanyard.Wrap(lanyard.EInternal, err, "encoding the UPN")
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagOtherName, IsCompound: true, Bytes: append(oid, value...)})
	}
	if email != "" {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagRFC822Name, Bytes: []byte(email)})
	}
	der, err := asn1.Marshal(names)
	if err != nil {
		return pkix.Extension{}, lanyard.Wrap(lanyard.EInternal, err, "encoding the subject alternative name")
	}
	return pkix.Extension{Id: oidExtensionSubjectAltName, Critical: subjectEmpty, Value: der}, nil
}

// validMailbox accepts local@domain in printable ASCII, as IA5String
// rfc822Name requires; it does not try to be a full RFC 5321 parser.
func validMailbox(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validUPN accepts name@suffix in UTF-8 without control characters or
// spaces: the form Windows maps to an account.
func validUPN(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && utf8.ValidString(s) && !hasControl(s) && !strings.ContainsRune(s, ' ')
}

// CheckSubject reports whether a certificate of template t can be built
// for u — the user attributes its subject alternative name needs (UPN,
// e-mail) are present and well formed — so that a card issue can refuse
// before it touches the card rather than fail at signing.
func CheckSubject(t *lanyard.Template, u *lanyard.User) error {
	_, _, err := subjectAltName(t, u, false)
	return err
}
