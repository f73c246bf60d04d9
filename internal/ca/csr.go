package ca

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// MaxCSRSize bounds what ParseCSR and ParsePublicKey read. An RSA-4096 CSR
// is under 2 KiB even in PEM; the bound keeps hostile input from costing
// parse time and memory.
const MaxCSRSize = 64 << 10

// maxRSABits bounds the RSA modulus ParseCSR will verify a signature with.
const maxRSABits = 8192

// ParseCSR parses a PKCS #10 request (RFC 2986) in DER or PEM and checks
// its self-signature, which proves the requester holds the private key
// (proof of possession). Every failure is EInvalidCSR with a message that
// says what is wrong; the CSR's subject and extensions are ignored by
// Lanyard, which takes them from the template.
func ParseCSR(b []byte) (*x509.CertificateRequest, error) {
	der, err := derFromInput(b, "CSR", lanyard.EInvalidCSR, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalidCSR, err, "the CSR is not a valid PKCS #10 request: "+err.Error())
	}
	// Verifying costs grow with the square of the modulus: a 50 KB CSR with
	// a 200,000-bit RSA key takes over half a second of CPU. Refuse absurd
	// sizes before the check; Lanyard issues to 4096 bits at most.
	if k, ok := csr.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() > maxRSABits {
		return nil, lanyard.Errorf(lanyard.EInvalidCSR, "the CSR's RSA key has %d bits; at most %d are accepted", k.N.BitLen(), maxRSABits)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalidCSR, err, "the CSR's signature does not verify with its public key: "+err.Error())
	}
	if csr.PublicKey == nil {
		return nil, lanyard.Errorf(lanyard.EInvalidCSR, "the CSR's public key algorithm %s is not supported", csr.PublicKeyAlgorithm)
	}
	return csr, nil
}

// ParsePublicKey parses a PKIX SubjectPublicKeyInfo (RFC 5280 4.1.2.7) in
// DER or PEM ("PUBLIC KEY"). Keys generated on a card arrive this way: the
// card returns only the public key (SP 800-73-4 part 2, 3.3.2 GENERATE
// ASYMMETRIC KEY PAIR) over the server's authenticated session, which is
// what vouches for it in place of a CSR signature. Failures are EInvalid.
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	der, err := derFromInput(b, "public key", lanyard.EInvalid, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalid, err, "the public key is not a valid SubjectPublicKeyInfo: "+err.Error())
	}
	return pub, nil
}

var pemStart = []byte("-----BEGIN ")

// derFromInput bounds the input and, when it is PEM, returns the DER of its
// only block, which must have one of the given types.
func derFromInput(b []byte, what, code string, types ...string) ([]byte, error) {
	if len(b) == 0 {
		return nil, lanyard.Errorf(code, "the %s is empty", what)
	}
	if len(b) > MaxCSRSize {
		return nil, lanyard.Errorf(code, "the %s is %d bytes; at most %d are accepted", what, len(b), MaxCSRSize)
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if !bytes.HasPrefix(trimmed, pemStart) {
		return b, nil
	}
	block, rest := pem.Decode(trimmed)
	if block == nil {
		return nil, lanyard.Errorf(code, "the %s looks like PEM but does not decode", what)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, lanyard.Errorf(code, "the %s has data after its PEM block; send one block", what)
	}
	for _, t := range types {
		if block.Type == t {
			return block.Bytes, nil
		}
	}
	return nil, lanyard.Errorf(code, "the PEM block is %q, want %q", block.Type, types[0])
}

// ChainPEM encodes certificates as concatenated PEM blocks, in order
// (for "lanyard ca cert" and the web layer's chain download).
func ChainPEM(chain []*x509.Certificate) []byte {
	var out []byte
	for _, c := range chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
