package emu_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// attestationCA reads the attestation certificate as clients do: GET DATA
// 5FFF01, certificate in 70.
func (c *tcard) attestationCA() *x509.Certificate {
	c.tb.Helper()
	r := c.getData(mustHex(c.tb, "5FFF01"))
	if r.SW != apdu.SWOK {
		c.tb.Fatalf("GET DATA 5FFF01: %v", r.SW)
	}
	cert, err := x509.ParseCertificate(field(c.tb, r.Data, 0x70))
	if err != nil {
		c.tb.Fatal(err)
	}
	return cert
}

// checkAttestation verifies an ATTEST answer against the CA and the slot's
// public key and returns the certificate.
func checkAttestation(t *testing.T, ca *x509.Certificate, der []byte, pub crypto.PublicKey) *x509.Certificate {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ATTEST answer: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("attestation does not chain to the attestation CA: %v", err)
	}
	if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Fatal("attestation certificate carries another public key")
	}
	return cert
}

func extension(cert *x509.Certificate, id asn1.ObjectIdentifier) []byte {
	for _, e := range cert.Extensions {
		if e.Id.Equal(id) {
			return e.Value
		}
	}
	return nil
}

func TestAttest(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := newCard(t, emu.WithKeyStore(pooledKeys{}), emu.WithClock(func() time.Time { return now }))
	ca := c.attestationCA()
	if own, err := c.card.AttestationCA(); err != nil || !own.Equal(ca) {
		t.Fatalf("AttestationCA differs from object 5FFF01 (%v)", err)
	}
	if !ca.IsCA || ca.CheckSignatureFrom(ca) != nil || !ca.NotBefore.Before(now) {
		t.Fatalf("attestation CA is not a valid self-signed CA from before %v", now)
	}

	c.authDefault()
	for _, tt := range []struct {
		slot  byte
		alg   emu.Algorithm
		extra string
		cn    string
		pol   []byte
	}{
		{0x9A, pivspec.AlgECCP256, "AA0101AB0101", "YubiKey PIV Attestation 9a", []byte{1, 1}},
		{0x9C, pivspec.AlgECCP384, "", "YubiKey PIV Attestation 9c", []byte{3, 1}},
		{0x85, pivspec.AlgRSA2048, "AB0102", "YubiKey PIV Attestation 85", []byte{2, 2}},
	} {
		pub := c.generate(tt.slot, tt.alg, mustHex(t, tt.extra)...)
		cert := checkAttestation(t, ca, c.must(0xF9, tt.slot, 0x00, nil), pub)
		if cert.Subject.CommonName != tt.cn {
			t.Errorf("subject %q, want %q", cert.Subject.CommonName, tt.cn)
		}
		var serial int64
		if _, err := asn1.Unmarshal(extension(cert, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}), &serial); err != nil || serial != int64(c.card.Serial()) {
			t.Errorf("serial extension %d (%v), want %d", serial, err, c.card.Serial())
		}
		if v := extension(cert, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}); !bytes.Equal(v, []byte{5, 4, 3}) {
			t.Errorf("firmware extension %X", v)
		}
		if v := extension(cert, asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}); !bytes.Equal(v, tt.pol) {
			t.Errorf("policy extension %X, want %X", v, tt.pol)
		}
	}

	c.expect(apdu.SWReferenceNotFound, 0xF9, 0x9D, 0x00, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF9, 0x9B, 0x00, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF9, 0xF9, 0x00, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF9, 0x9A, 0x01, nil)
	c.expect(apdu.SWWrongLength, 0xF9, 0x9A, 0x00, []byte{0})
}

// The attestation key can be replaced by IMPORT KEY into F9 and a new
// certificate in 5FFF01, as ykman does; an RSA attestation key signs with
// PKCS#1 v1.5.
func TestAttestWithImportedRSAKey(t *testing.T) {
	c := newCard(t)
	c.authDefault()
	priv := pooledRSA(t, 2048)
	alg, data := importTLVs(priv)
	c.must(0xFE, byte(alg), 0xF9, data)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "Custom attestation CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	if sw := c.putData(mustHex(t, "5FFF01"), append(tlv(0x70, der), mustHex(t, "710100FE00")...)); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	ca, _ := x509.ParseCertificate(der)
	pub := c.generate(0x9A, pivspec.AlgECCP256)
	cert := checkAttestation(t, ca, c.must(0xF9, 0x9A, 0x00, nil), pub)
	if cert.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Fatalf("signature algorithm %v", cert.SignatureAlgorithm)
	}

	// Without a matching certificate in 5FFF01 the card cannot attest.
	if sw := c.putData(mustHex(t, "5FFF01"), nil); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	c.expect(apdu.SWConditionsNotSatisfied, 0xF9, 0x9A, 0x00, nil)
}
