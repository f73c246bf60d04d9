package builtin

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"io"
	"math/big"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Lifetimes of a new CA. The issuing CA ends well before the root, so the
// root can certify a successor while both are valid.
const (
	rootYears    = 20
	issuingYears = 10
)

// caSubjects returns the root and issuing subjects. The default CA gets the
// plain names; others carry their name so that two CAs in one installation
// never share an issuer name (path building matches names first, RFC 5280
// 6.1).
func caSubjects(name string) (root, issuing pkix.Name) {
	suffix := ""
	if name != Kind {
		suffix = " (" + name + ")"
	}
	root = pkix.Name{CommonName: "Lanyard Root CA" + suffix, Organization: []string{"Lanyard"}}
	issuing = pkix.Name{CommonName: "Lanyard Issuing CA" + suffix, Organization: []string{"Lanyard"}}
	return root, issuing
}

// create makes a root and an issuing CA and stores them with one audit
// event in one transaction. It returns EConflict when another process
// created the CA first.
func create(ctx context.Context, cfg *ca.Config, alg lanyard.KeyAlgorithm) (*lanyard.CARecord, error) {
	now := cfg.Now().UTC()
	rootKey, err := generateKey(alg, cfg.Rand)
	if err != nil {
		return nil, err
	}
	issuingKey, err := generateKey(alg, cfg.Rand)
	if err != nil {
		return nil, err
	}
	rootName, issuingName := caSubjects(cfg.Name)
	notBefore := now.Add(-time.Minute).Truncate(time.Second) // clock skew, as for end entities

	// RFC 5280 4.2.1.9: pathLenConstraint 1 lets the root certify issuing
	// CAs that certify only end entities (pathlen 0). 4.2.1.3: keyCertSign
	// and cRLSign; the issuing CA also has digitalSignature because it signs
	// OCSP responses itself (RFC 6960 4.2.2.2).
	rootTmpl := &x509.Certificate{
		Subject:               rootName,
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(rootYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	root, err := signCA(cfg.Rand, rootTmpl, nil, rootKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	issuingTmpl := &x509.Certificate{
		Subject:               issuingName,
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(issuingYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	issuing, err := signCA(cfg.Rand, issuingTmpl, root, issuingKey.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	sealedIssuing, err := sealKey(cfg.Sealer, issuingKey, keyAAD(cfg.Name, "issuing"))
	if err != nil {
		return nil, err
	}
	sealedRoot, err := sealKey(cfg.Sealer, rootKey, keyAAD(cfg.Name, "root"))
	if err != nil {
		return nil, err
	}
	at := now.Truncate(time.Microsecond)
	rec := &lanyard.CARecord{
		Name:      cfg.Name,
		Kind:      Kind,
		CertDER:   issuing.Raw,
		ChainDER:  [][]byte{issuing.Raw, root.Raw},
		SealedKey: sealedIssuing,
		CreatedAt: at,
	}
	event := &lanyard.AuditEvent{
		Time:       at,
		Actor:      "system",
		Action:     "ca.create",
		ObjectType: "ca",
		ObjectID:   cfg.Name,
		Details: lanyard.AuditDetails(map[string]any{
			"kind":              Kind,
			"key_algorithm":     string(alg),
			"root_subject":      root.Subject.String(),
			"root_sha256":       fingerprint(root),
			"issuing_subject":   issuing.Subject.String(),
			"issuing_sha256":    fingerprint(issuing),
			"issuing_not_after": issuing.NotAfter.UTC().Format(time.RFC3339),
		}),
	}
	err = cfg.Store.Update(ctx, func(tx lanyard.Tx) error {
		// CreateCA first: if another process won, nothing of ours is written.
		if err := tx.CreateCA(rec); err != nil {
			return err
		}
		if err := tx.PutSetting(rootKeySetting(cfg.Name), sealedRoot); err != nil {
			return err
		}
		return tx.AppendAudit(event)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// signCA certifies a CA key; parent nil means self-signed. crypto/x509
// derives the subject key identifier from the key (RFC 5280 4.2.1.2) and
// the authority key identifier from the parent's.
func signCA(rand io.Reader, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	serial, err := randomSerial(rand)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand, tmpl, parent, pub, key)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "creating a CA certificate failed")
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "a new CA certificate does not parse")
	}
	return c, nil
}

func fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// randomSerial returns a positive serial of up to 127 random bits: 16 bytes
// with the top bit cleared, so the DER INTEGER needs no sign octet and stays
// within RFC 5280 4.1.2.2's 20 octets, while far exceeding the 64 bits of
// entropy the CA/Browser Forum asks for to make serials unpredictable.
func randomSerial(rand io.Reader) (*big.Int, error) {
	var b [16]byte
	for range 4 { // four all-zero reads in a row mean a broken reader
		if _, err := io.ReadFull(rand, b[:]); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "reading randomness for a serial number failed")
		}
		b[0] &= 0x7f
		if s := new(big.Int).SetBytes(b[:]); s.Sign() > 0 {
			return s, nil
		}
	}
	return nil, lanyard.Errorf(lanyard.EInternal, "the random source returned only zeros")
}
