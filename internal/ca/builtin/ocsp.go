package builtin

import (
	"bytes"
	"context"
	"crypto"
	_ "crypto/sha1" // OCSP CertIDs use SHA-1 by default (RFC 6960 4.1.1, RFC 5019 2.1.1)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// maxOCSPRequest bounds a request: a single-certificate request is about
// 100 bytes, and one with a nonce and a few extensions stays far below.
const maxOCSPRequest = 8 << 10

// issuerID is the issuer half of an OCSP CertID (RFC 6960 4.1.1): hashes of
// the issuer's DER-encoded name and of its public key's BIT STRING value.
type issuerID struct {
	nameHash, keyHash []byte
}

// issuerIDs precomputes the issuing certificate's CertID hashes for every
// hash algorithm golang.org/x/crypto/ocsp parses, so that matching a request
// costs two comparisons.
func issuerIDs(issuer *x509.Certificate) (map[crypto.Hash]issuerID, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the issuing certificate's public key does not parse")
	}
	ids := map[crypto.Hash]issuerID{}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		hn := h.New()
		hn.Write(issuer.RawSubject)
		name := hn.Sum(nil)
		hn.Reset()
		hn.Write(spki.PublicKey.RightAlign())
		ids[h] = issuerID{nameHash: name, keyHash: hn.Sum(nil)}
	}
	return ids, nil
}

// ParseOCSPRequest decodes a DER OCSP request and reports whether it asks
// about a certificate of this CA. Limits of golang.org/x/crypto/ocsp: only
// the first CertID is read, signed requests are refused, and a nonce (RFC
// 6960 4.4.1) is not echoed, as with the pre-produced responses of the
// RFC 5019 profile; OpenSSL warns about the missing nonce and accepts.
func (c *CA) ParseOCSPRequest(der []byte) (ca.OCSPRequest, bool, error) {
	if len(der) == 0 || len(der) > maxOCSPRequest {
		return ca.OCSPRequest{}, false, lanyard.Errorf(lanyard.EInvalid, "an OCSP request must be 1 to %d bytes", maxOCSPRequest)
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return ca.OCSPRequest{}, false, lanyard.Wrap(lanyard.EInvalid, err, "malformed OCSP request: "+err.Error())
	}
	out := ca.OCSPRequest{Serial: req.SerialNumber, Hash: req.HashAlgorithm}
	id, ok := c.ocspIDs[req.HashAlgorithm]
	if !ok || req.SerialNumber == nil {
		return out, false, nil
	}
	return out, bytes.Equal(id.nameHash, req.IssuerNameHash) && bytes.Equal(id.keyHash, req.IssuerKeyHash), nil
}

// SignOCSP returns a basic OCSP response (RFC 6960 4.2.1) for one
// certificate, signed directly by the issuing CA key, which RFC 6960
// 4.2.2.2 allows; no responder certificate is needed or embedded, and the
// responder ID is the issuing CA's name. The CertID uses st.Hash, the
// request's algorithm, so clients can match it.
//
// golang.org/x/crypto/ocsp sets producedAt itself from the system clock
// (to the minute) and draws signature randomness from crypto/rand.
func (c *CA) SignOCSP(ctx context.Context, st ca.OCSPStatus) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Any serial a request can carry gets an answer, even one no CA would
	// issue (zero, negative): "unknown" is the right one for those.
	if st.Serial == nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP status needs the serial")
	}
	hash := st.Hash
	if hash == 0 {
		hash = crypto.SHA1
	}
	if _, ok := c.ocspIDs[hash]; !ok {
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP hash algorithm %v is not supported", hash)
	}
	thisUpdate := st.ThisUpdate
	if thisUpdate.IsZero() {
		// To the minute, like producedAt, so that a response never says it
		// was produced before the status it reports was known.
		thisUpdate = c.now().Truncate(time.Minute)
	}
	if !st.NextUpdate.IsZero() && !st.NextUpdate.After(thisUpdate) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP nextUpdate must be after thisUpdate")
	}
	tmpl := ocsp.Response{
		SerialNumber: st.Serial,
		ThisUpdate:   thisUpdate.UTC(),
		NextUpdate:   st.NextUpdate.UTC(),
		IssuerHash:   hash,
	}
	switch {
	case st.Good && st.Unknown:
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP status cannot be both good and unknown")
	case st.Good:
		tmpl.Status = ocsp.Good
	case st.Unknown:
		tmpl.Status = ocsp.Unknown
	default:
		if st.RevokedAt.IsZero() {
			return nil, lanyard.Errorf(lanyard.EInvalid, "a revoked OCSP status needs the revocation time")
		}
		if !validReason(st.Reason) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "revocation reason %d is not allowed in OCSP", st.Reason)
		}
		tmpl.Status = ocsp.Revoked
		tmpl.RevokedAt = st.RevokedAt.UTC()
		tmpl.RevocationReason = int(st.Reason)
	}
	der, err := ocsp.CreateResponse(c.cert, c.cert, tmpl, c.signer)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "signing the OCSP response failed")
	}
	return der, nil
}
