package lanyard

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"time"
)

// SerialHex formats a certificate serial the way the store keys it:
// lower-case hex without leading zeros (Certificate.Serial).
func SerialHex(n *big.Int) string { return n.Text(16) }

// ManagedCertificate describes, for the store, a certificate a CA has just
// signed from template tpl for user u: valid, managed by Lanyard, keyed
// by its serial (SerialHex) and by the SHA-256 of its public key, created
// and updated at now. The certificate API, the CA queue and the card
// workflows all record what they sign this way.
func ManagedCertificate(cert *x509.Certificate, tpl *Template, u *User, now time.Time) *Certificate {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return &Certificate{
		Serial: SerialHex(cert.SerialNumber), CA: tpl.CA, Template: tpl.Name, UserID: u.ID,
		Subject: cert.Subject.String(), NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		Status: CertValid, Source: SourceManaged, KeySHA256: hex.EncodeToString(sum[:]),
		DER: cert.Raw, CreatedAt: now, UpdatedAt: now,
	}
}
