package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"slices"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var keyUsages = map[string]x509.KeyUsage{
	lanyard.KUDigitalSignature:  x509.KeyUsageDigitalSignature,
	lanyard.KUContentCommitment: x509.KeyUsageContentCommitment,
	lanyard.KUKeyEncipherment:   x509.KeyUsageKeyEncipherment,
	lanyard.KUKeyAgreement:      x509.KeyUsageKeyAgreement,
}

// keyUsage maps the template's key usages (RFC 5280 4.2.1.3) and leaves
// out the bits the key's algorithm cannot have: RFC 5480 section 3 forbids
// keyEncipherment for id-ecPublicKey, and RFC 3279 2.3.1 does not list
// keyAgreement for RSA. A template commonly allows both RSA and EC keys
// (smart card logon with key_encipherment for RSA), so dropping the
// inapplicable bit is what the template means; a template left with no
// usage at all for the key is refused.
func keyUsage(t *lanyard.Template, pub crypto.PublicKey) (x509.KeyUsage, error) {
	var forbidden x509.KeyUsage
	switch pub.(type) {
	case *ecdsa.PublicKey:
		forbidden = x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment
	case *rsa.PublicKey:
		forbidden = x509.KeyUsageKeyAgreement
	}
	var ku x509.KeyUsage
	for _, name := range t.KeyUsage {
		bit, ok := keyUsages[name]
		if !ok {
			return 0, lanyard.Errorf(lanyard.EInvalid, "template %q: unknown key usage %q", t.Name, name)
		}
		ku |= bit
	}
	ku &^= forbidden
	if ku == 0 {
		return 0, lanyard.Errorf(lanyard.EInvalid, "template %q: none of its key usages (%s) applies to %s keys", t.Name, strings.Join(t.KeyUsage, ", "), lanyard.KeyAlgorithmOf(pub))
	}
	return ku, nil
}

type extUsage struct {
	known x509.ExtKeyUsage
	oid   asn1.ObjectIdentifier // for purposes crypto/x509 has no constant for
}

var extKeyUsages = map[string]extUsage{
	lanyard.EKUSmartCardLogon:  {oid: OIDExtKeyUsageSmartCardLogon},
	lanyard.EKUClientAuth:      {known: x509.ExtKeyUsageClientAuth},
	lanyard.EKUEmailProtection: {known: x509.ExtKeyUsageEmailProtection},
	lanyard.EKUDocumentSigning: {oid: OIDExtKeyUsageDocumentSigning},
	lanyard.EKUServerAuth:      {known: x509.ExtKeyUsageServerAuth},
	lanyard.EKUCodeSigning:     {known: x509.ExtKeyUsageCodeSigning},
	lanyard.EKUTimeStamping:    {known: x509.ExtKeyUsageTimeStamping},
}

// extKeyUsage maps the template's extended key usages (RFC 5280
// 4.2.1.12), in the template's order, without duplicates. OCSP signing
// and any purpose are refused (lanyard.ForbiddenExtKeyUsages) whatever the
// template's path here: a template stored before the rule existed is not
// signed from.
func extKeyUsage(t *lanyard.Template) ([]x509.ExtKeyUsage, []asn1.ObjectIdentifier, error) {
	if err := t.CheckExtKeyUsage(); err != nil {
		return nil, nil, err
	}
	var known []x509.ExtKeyUsage
	var oids []asn1.ObjectIdentifier
	for _, name := range t.ExtKeyUsage {
		u, ok := extKeyUsages[name]
		if !ok {
			return nil, nil, lanyard.Errorf(lanyard.EInvalid, "template %q: unknown extended key usage %q", t.Name, name)
		}
		switch {
		case u.oid != nil:
			if !slices.ContainsFunc(oids, u.oid.Equal) {
				oids = append(oids, u.oid)
			}
		case !slices.Contains(known, u.known):
			known = append(known, u.known)
		}
	}
	return known, oids, nil
}
