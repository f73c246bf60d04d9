package documents

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"slices"

	"github.com/smallstep/pkcs7"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// oidDocumentSigning is the document signing extended key usage (RFC 9336),
// which Go's x509 does not name.
var oidDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}

// verifiedSigner is the certificate a CMS signature was checked against:
// its chain to the CA and its usages verified, its store record still to
// be checked in the transaction that stores the upload.
type verifiedSigner struct {
	ca, serial, subject string
	raw                 []byte
}

// verifyCMS checks a detached CMS/PKCS#7 signature (RFC 5652, DER or
// PEM) over form, the exact bytes Lanyard generated: one signer, a
// SHA-2 digest, the signature valid over form, the signer's certificate
// issued by one of Lanyard's CAs and valid now, with the digitalSignature
// or nonRepudiation key usage and the document signing extended key usage.
func (s *Documents) verifyCMS(ctx context.Context, sig, form []byte) (*verifiedSigner, error) {
	der := sig
	if b := bytes.TrimSpace(sig); bytes.HasPrefix(b, []byte("-----BEGIN ")) {
		block, _ := pem.Decode(b)
		if block == nil || (block.Type != "PKCS7" && block.Type != "CMS" && block.Type != "PKCS #7 SIGNED DATA") {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the PEM file holds no PKCS7 or CMS block")
		}
		der = block.Bytes
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalid, err, "the file is not a CMS/PKCS#7 signature (SignedData)")
	}
	if len(p7.Signers) != 1 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signature must have exactly one signer, it has %d", len(p7.Signers))
	}
	digest := p7.Signers[0].DigestAlgorithm.Algorithm
	if !digest.Equal(pkcs7.OIDDigestAlgorithmSHA256) && !digest.Equal(pkcs7.OIDDigestAlgorithmSHA384) && !digest.Equal(pkcs7.OIDDigestAlgorithmSHA512) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signature uses digest algorithm %s; sign with SHA-256, SHA-384 or SHA-512", digest)
	}
	if len(p7.Content) > 0 && !bytes.Equal(p7.Content, form) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signature encloses a different document; sign the form downloaded from Lanyard (a detached signature)")
	}
	p7.Content = form
	cert := p7.GetOnlySigner()
	if cert == nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signature does not include the signer's certificate")
	}
	if err := p7.Verify(); err != nil {
		var mismatch *pkcs7.MessageDigestMismatchError
		var badTime *pkcs7.SigningTimeNotValidError
		switch {
		case errors.As(err, &mismatch):
			return nil, lanyard.Wrap(lanyard.EInvalid, err, "the signature is not over this document's form: download the form again, sign that file and upload the new signature")
		case errors.As(err, &badTime):
			return nil, lanyard.Wrap(lanyard.EInvalid, err, "the signing time lies outside the signing certificate's validity")
		}
		return nil, lanyard.Wrap(lanyard.EInvalid, err, "the signature does not verify")
	}
	caName := ""
	for _, authority := range s.cas {
		name := authority.Name()
		chain, err := authority.Chain(ctx)
		if err != nil || len(chain) == 0 {
			continue
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(chain[len(chain)-1])
		for _, c := range chain[:len(chain)-1] {
			inter.AddCert(c)
		}
		// Go's verifier does not know the document signing usage; it is
		// checked below.
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: s.rec.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
			caName = name
			break
		}
	}
	if caName == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signing certificate (%s) was not issued by Lanyard's CA or is not valid now", cert.Subject)
	}
	if cert.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signing certificate (%s) is not for signatures", cert.Subject)
	}
	if !slices.ContainsFunc(cert.UnknownExtKeyUsage, oidDocumentSigning.Equal) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the signing certificate (%s) is not a document signing certificate; sign with the certificate of your document signing template", cert.Subject)
	}
	return &verifiedSigner{ca: caName, serial: lanyard.SerialHex(cert.SerialNumber), subject: cert.Subject.String(), raw: cert.Raw}, nil
}

// checkRecord checks the signer against Lanyard's record of the
// certificate: the one issued, to the uploading user, not revoked.
func (v *verifiedSigner) checkRecord(tx lanyard.Tx, uploader *lanyard.User) error {
	rec, err := tx.CertificateBySerial(v.ca, v.serial)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return lanyard.Errorf(lanyard.EInvalid, "the signing certificate %s is not recorded in Lanyard", v.serial)
	}
	if err != nil {
		return err
	}
	switch {
	case !bytes.Equal(rec.DER, v.raw):
		return lanyard.Errorf(lanyard.EInvalid, "the signing certificate %s differs from the one Lanyard issued", v.serial)
	case rec.UserID != uploader.ID:
		return lanyard.Errorf(lanyard.EInvalid, "the document is signed with another person's certificate (%s); sign it with your own", v.subject)
	case rec.Status == lanyard.CertRevoked:
		return lanyard.Errorf(lanyard.EInvalid, "the signing certificate %s is revoked; sign with a valid certificate", v.serial)
	case rec.OnHold():
		// Its card is disabled: the CRL and OCSP say certificateHold, and
		// so does this check (RFC 5280 5.3.1).
		return lanyard.Errorf(lanyard.EInvalid, "the signing certificate %s is on hold (its card is disabled); sign with a valid certificate", v.serial)
	case rec.Status != lanyard.CertValid && rec.Status != lanyard.CertWritten:
		return lanyard.Errorf(lanyard.EInvalid, "the signing certificate %s is %s, not valid", v.serial, rec.Status)
	}
	return nil
}
