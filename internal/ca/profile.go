package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Extended key usage OIDs that crypto/x509 has no constant for.
var (
	// OIDExtKeyUsageSmartCardLogon is Microsoft's smart card logon purpose
	// (szOID_KP_SMARTCARD_LOGON); Windows wants it on logon certificates.
	OIDExtKeyUsageSmartCardLogon = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 2}
	// OIDExtKeyUsageDocumentSigning is id-kp-documentSigning (RFC 9336).
	OIDExtKeyUsageDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
)

// URLs are where relying parties fetch what they need to check a
// certificate: the CRL (RFC 5280 4.2.1.13), the OCSP responder and the
// issuing CA's certificate (both authorityInfoAccess, RFC 5280 4.2.2.1).
// Empty fields are left out of the certificate.
type URLs struct {
	CRL        string
	OCSP       string
	IssuerCert string
}

// CAURLs returns the URLs the web layer serves for the CA named caName
// under baseURL: /crl/<ca>.crl (DER CRL), /ocsp, and /ca/<ca>.crt (DER
// certificate, as RFC 5280 4.2.2.1 requires for caIssuers over HTTP).
func CAURLs(baseURL, caName string) URLs {
	base := strings.TrimRight(baseURL, "/")
	name := url.PathEscape(caName)
	return URLs{
		CRL:        base + "/crl/" + name + ".crl",
		OCSP:       base + "/ocsp",
		IssuerCert: base + "/ca/" + name + ".crt",
	}
}

// CertSpec is everything that decides the content of one end-entity
// certificate.
type CertSpec struct {
	Template  *lanyard.Template
	User      *lanyard.User
	PublicKey crypto.PublicKey
	Serial    *big.Int
	NotBefore time.Time
	NotAfter  time.Time
	URLs      URLs
}

// BuildCertificate turns s into a template for x509.CreateCertificate. It
// is pure: the same spec always yields the same certificate content.
//
// The key is checked against the template again (CheckPublicKey) although
// callers are expected to have done so: a CA must never certify a key its
// template refuses, whatever path the request took.
func BuildCertificate(s *CertSpec) (*x509.Certificate, error) {
	if s.Template == nil || s.User == nil || s.PublicKey == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "certificate profile: template, user and public key are required")
	}
	t := s.Template
	// RFC 5280 4.1.2.2: positive, at most 20 octets.
	if s.Serial == nil || s.Serial.Sign() <= 0 || s.Serial.BitLen() > 159 {
		return nil, lanyard.Errorf(lanyard.EInternal, "certificate profile: serial must be positive and fit 20 octets")
	}
	if !s.NotAfter.After(s.NotBefore) {
		return nil, lanyard.Errorf(lanyard.EInternal, "certificate profile: notAfter %s is not after notBefore %s", s.NotAfter, s.NotBefore)
	}
	if err := CheckPublicKey(t, s.PublicKey); err != nil {
		return nil, err
	}
	subject, err := buildSubject(t, s.User)
	if err != nil {
		return nil, err
	}
	ku, err := keyUsage(t, s.PublicKey)
	if err != nil {
		return nil, err
	}
	eku, unknownEKU, err := extKeyUsage(t)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(s.PublicKey)
	if err != nil {
		return nil, err
	}
	c := &x509.Certificate{
		SerialNumber:       s.Serial,
		Subject:            subject,
		NotBefore:          s.NotBefore,
		NotAfter:           s.NotAfter,
		KeyUsage:           ku,
		ExtKeyUsage:        eku,
		UnknownExtKeyUsage: unknownEKU,
		// RFC 5280 4.2.1.9: an end entity may carry cA FALSE; saying so
		// keeps validators that look for it from guessing.
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          ski,
	}
	if s.URLs.CRL != "" {
		c.CRLDistributionPoints = []string{s.URLs.CRL}
	}
	if s.URLs.OCSP != "" {
		c.OCSPServer = []string{s.URLs.OCSP}
	}
	if s.URLs.IssuerCert != "" {
		c.IssuingCertificateURL = []string{s.URLs.IssuerCert}
	}
	san, ok, err := subjectAltName(t, s.User, len(subject.Names) == 0 && subject.CommonName == "")
	if err != nil {
		return nil, err
	}
	if ok {
		c.ExtraExtensions = append(c.ExtraExtensions, san)
	}
	return c, nil
}

// ValidityWindow returns the validity of a certificate issued at now for
// days days by a CA whose own certificate ends at caNotAfter. NotBefore is
// backdated one minute so that relying parties whose clocks run slightly
// behind accept a fresh certificate. NotAfter never exceeds the CA's: path
// validation checks the validity of every certificate in the path (RFC 5280
// 6.1.3 (a)(2)), so time past the issuer's expiry would be a promise the
// certificate cannot keep. Times are whole seconds in UTC, which is all
// X.509 encodes (RFC 5280 4.1.2.5).
func ValidityWindow(now time.Time, days int, caNotAfter time.Time) (notBefore, notAfter time.Time, err error) {
	if days < 1 {
		return time.Time{}, time.Time{}, lanyard.Errorf(lanyard.EInvalid, "validity must be at least one day, got %d", days)
	}
	notBefore = now.UTC().Add(-time.Minute).Truncate(time.Second)
	notAfter = notBefore.Add(time.Duration(days) * 24 * time.Hour)
	if ca := caNotAfter.UTC().Truncate(time.Second); notAfter.After(ca) {
		notAfter = ca
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, time.Time{}, lanyard.Errorf(lanyard.EUnavailable, "the issuing CA certificate expired at %s", caNotAfter.UTC().Format(time.RFC3339))
	}
	return notBefore, notAfter, nil
}

// CheckPublicKey refuses keys whose algorithm and size t does not allow,
// naming both so that the person requesting can fix it.
func CheckPublicKey(t *lanyard.Template, pub crypto.PublicKey) error {
	alg := lanyard.KeyAlgorithmOf(pub)
	if alg == "" {
		return lanyard.Errorf(lanyard.EKeyNotAllowed, "%s keys are not supported; template %q allows %s", describeKey(pub), t.Name, joinAlgs(t.KeyAlgs))
	}
	if !t.AllowsKey(alg) {
		return lanyard.Errorf(lanyard.EKeyNotAllowed, "template %q does not allow %s keys; it allows %s", t.Name, alg, joinAlgs(t.KeyAlgs))
	}
	return nil
}

func describeKey(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen()) + "-bit"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case nil:
		return "missing"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", pub), "*") // e.g. "ed25519.PublicKey"
}

func joinAlgs(algs []lanyard.KeyAlgorithm) string {
	if len(algs) == 0 {
		return "no key algorithm"
	}
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}

// subjectKeyID implements RFC 7093 section 2 method 1 (the leftmost 160
// bits of the SHA-256 of subjectPublicKey), as crypto/x509 does for CAs.
// RFC 5280 4.2.1.2 says end-entity certificates SHOULD carry it, to
// identify the certificates that hold a given public key.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	var spk []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInvalid, err, "the ECDSA public key is not a valid point")
		}
		spk = b
	case *rsa.PublicKey:
		spk = x509.MarshalPKCS1PublicKey(k) // RFC 3279 2.3.1
	default:
		return nil, lanyard.Errorf(lanyard.EKeyNotAllowed, "%s keys are not supported", describeKey(pub))
	}
	h := sha256.Sum256(spk)
	return h[:20], nil
}
