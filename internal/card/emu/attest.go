package emu

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Yubico's attestation extensions (arc 1.3.6.1.4.1.41482.3), which piv-go's
// Verify and ykman read: firmware version (3 raw bytes), serial number (DER
// INTEGER) and key policy (2 raw bytes: PIN policy, touch policy).
var (
	oidFirmwareVersion = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerialNumber    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidKeyPolicy       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
)

// noWellDefinedExpiration is the notAfter of certificates that do not
// expire (RFC 5280, 4.1.2.5): a device's attestation outlives any date.
var noWellDefinedExpiration = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// newAttestationCA creates the card's attestation key in the key store and
// its self-signed certificate, which the card keeps in object 5FFF01 as
// YubiKeys do. Its subject names the card's serial number.
func (c *Card) newAttestationCA(serial uint32) (SlotKey, []byte, error) {
	alg := pivspec.AlgECCP256
	if g := c.guard(); g != nil {
		alg = g.AttestationAlgorithm()
	}
	key, err := c.cfg.keys.Generate(alg)
	if err != nil {
		return SlotKey{}, nil, fmt.Errorf("emu: attestation key: %w", err)
	}
	sn, err := c.certSerial()
	if err != nil {
		return SlotKey{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{Organization: []string{"Lanyard"}, CommonName: fmt.Sprintf("Lanyard PIV Attestation CA %d", serial)},
		NotBefore:             c.cfg.now().Add(-time.Minute).UTC().Truncate(time.Second),
		NotAfter:              noWellDefinedExpiration,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(c.cfg.rand, tmpl, tmpl, key.Public(), keySigner{key})
	if err != nil {
		return SlotKey{}, nil, fmt.Errorf("emu: attestation certificate: %w", err)
	}
	blob, err := key.Blob()
	if err != nil {
		return SlotKey{}, nil, err
	}
	sk := SlotKey{Algorithm: alg, PINPolicy: pivspec.PINPolicyNever, TouchPolicy: pivspec.TouchPolicyNever, Origin: pivspec.OriginGenerated, Blob: blob}
	return sk, der, nil
}

// attest is ATTEST (F9): P1 the slot, P2 00. The answer is a certificate
// for the slot's public key, signed by the attestation key (slot F9) and
// issued under the certificate in 5FFF01, carrying the firmware version,
// serial number and the key's policies. Only generated keys are attested:
// 6A80 for an imported key, 6A88 for an empty slot, as on YubiKeys.
func (c *Card) attest(cmd apdu.Command) apdu.Response {
	if !isKeySlot(cmd.P1) || cmd.P2 != 0x00 {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		return status(apdu.SWWrongLength)
	}
	sk, ok := c.st.Keys[cmd.P1]
	if !ok {
		return status(apdu.SWReferenceNotFound)
	}
	if sk.Origin != pivspec.OriginGenerated {
		return status(apdu.SWIncorrectData)
	}
	der, err := c.attestationCertificate(cmd.P1, sk)
	if err != nil {
		c.cfg.log.Error("emu: attestation", "err", err)
		return status(apdu.SWConditionsNotSatisfied)
	}
	return success(der)
}

// attestationCertificate issues the attestation certificate of slot ref.
func (c *Card) attestationCertificate(ref byte, sk SlotKey) ([]byte, error) {
	ca, err := c.attestationCA()
	if err != nil {
		return nil, err
	}
	caKey, err := c.key(SlotAttestation)
	if err != nil {
		return nil, err
	}
	if caKey == nil {
		return nil, errors.New("no attestation key")
	}
	key, err := c.key(ref)
	if err != nil {
		return nil, err
	}
	sn, err := c.certSerial()
	if err != nil {
		return nil, err
	}
	serial, err := asn1.Marshal(int64(c.st.Serial))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", ref)},
		NotBefore:    ca.NotBefore,
		NotAfter:     ca.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmwareVersion, Value: Version[:]},
			{Id: oidSerialNumber, Value: serial},
			{Id: oidKeyPolicy, Value: []byte{byte(sk.PINPolicy), byte(sk.TouchPolicy)}},
		},
	}
	return x509.CreateCertificate(c.cfg.rand, tmpl, ca, key.Public(), keySigner{caKey})
}

// attestationCA parses the certificate in object 5FFF01.
func (c *Card) attestationCA() (*x509.Certificate, error) {
	v, ok := c.st.Objects[pivspec.ObjectAttestation]
	if !ok {
		return nil, errors.New("no attestation certificate in 5FFF01")
	}
	tlvs, err := apdu.ParseTLVs(v)
	if err != nil {
		return nil, err
	}
	t, ok := apdu.Find(tlvs, 0x70)
	if !ok {
		return nil, errors.New("object 5FFF01 holds no certificate")
	}
	return x509.ParseCertificate(t.Value)
}

// AttestationCA returns the card's attestation certificate (object
// 5FFF01), the issuer of the certificates ATTEST returns and the root a
// verifier of those trusts for this card.
func (c *Card) AttestationCA() (*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attestationCA()
}

// certSerial returns a random positive 127-bit certificate serial number.
func (c *Card) certSerial() (*big.Int, error) {
	b, err := c.random(16)
	if err != nil {
		return nil, err
	}
	b[0] &= 0x7F
	b[0] |= 0x40
	return new(big.Int).SetBytes(b), nil
}

// keySigner is a crypto.Signer over a card Key, for signing certificates
// with the attestation key: ECDSA directly, RSA as PKCS#1 v1.5 through the
// raw operation.
type keySigner struct{ k Key }

func (s keySigner) Public() crypto.PublicKey { return s.k.Public() }

func (s keySigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.k.Algorithm().IsEC() {
		return s.k.SignECDSA(digest)
	}
	if _, pss := opts.(*rsa.PSSOptions); pss {
		return nil, errors.New("emu: the attestation key signs PKCS#1 v1.5 only")
	}
	prefix, ok := digestInfoPrefix[opts.HashFunc()]
	pub, isRSA := s.k.Public().(*rsa.PublicKey)
	if !ok || !isRSA || len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("emu: cannot sign a %v digest with %v", opts.HashFunc(), s.k.Algorithm())
	}
	// EMSA-PKCS1-v1_5 (RFC 8017, 9.2): 00 01 FF… 00 DigestInfo.
	k := pub.Size()
	t := append(append([]byte(nil), prefix...), digest...)
	if len(t)+11 > k {
		return nil, errors.New("emu: RSA key too small for the digest")
	}
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-len(t):], t)
	return s.k.RSAPrivate(em)
}

// digestInfoPrefix is the DER DigestInfo before the digest (RFC 8017, 9.2
// note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}
