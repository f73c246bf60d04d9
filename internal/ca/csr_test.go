package ca_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func mustCSR(tb testing.TB, key string) []byte {
	tb.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, mustKey(tb, key))
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// hugeRSACSR builds a CSR whose RSA modulus has bits bits and whose
// signature is junk: cheap to send, expensive to verify.
func hugeRSACSR(tb testing.TB, bits int) []byte {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	rsaKey, err := asn1.Marshal(struct {
		N *big.Int
		E int
	}{n, 65537})
	if err != nil {
		tb.Fatal(err)
	}
	rsaAlg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.NullRawValue}
	sha256RSA := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, Parameters: asn1.NullRawValue}
	type spki struct {
		Algorithm pkix.AlgorithmIdentifier
		Key       asn1.BitString
	}
	type tbs struct {
		Version    int
		Subject    pkix.RDNSequence
		Key        spki
		Attributes asn1.RawValue
	}
	der, err := asn1.Marshal(struct {
		TBS       tbs
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{
		tbs{0, pkix.RDNSequence{}, spki{rsaAlg, asn1.BitString{Bytes: rsaKey, BitLength: 8 * len(rsaKey)}}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true}},
		sha256RSA,
		asn1.BitString{Bytes: make([]byte, bits/8), BitLength: bits},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParseCSR(t *testing.T) {
	p256, rsa := mustCSR(t, "p256"), mustCSR(t, "rsa2048")
	badSig := bytes.Clone(p256)
	badSig[len(badSig)-3] ^= 0x01 // inside the ECDSA signature's s value
	tests := []struct {
		name string
		in   []byte
		alg  x509.PublicKeyAlgorithm
		msg  string // for failures: part of the message
	}{
		{"P-256 DER", p256, x509.ECDSA, ""},
		{"RSA PEM", pemOf("CERTIFICATE REQUEST", rsa), x509.RSA, ""},
		{"legacy PEM type, surrounding space", append(append([]byte("\n  "), pemOf("NEW CERTIFICATE REQUEST", rsa)...), "\n\n"...), x509.RSA, ""},
		{"empty", nil, 0, "empty"},
		{"truncated", p256[:len(p256)/2], 0, "not a valid PKCS #10"},
		{"garbage", []byte("\x30\x03\x02\x01"), 0, "not a valid PKCS #10"},
		{"trailing data", append(bytes.Clone(p256), 0), 0, "not a valid PKCS #10"},
		{"bad signature", badSig, 0, "signature does not verify"},
		{"wrong PEM type", pemOf("CERTIFICATE", p256), 0, `"CERTIFICATE"`},
		{"broken PEM", []byte("-----BEGIN CERTIFICATE REQUEST-----\nnot base64!\n"), 0, "does not decode"},
		{"two PEM blocks", append(pemOf("CERTIFICATE REQUEST", p256), pemOf("CERTIFICATE REQUEST", p256)...), 0, "after its PEM block"},
		{"too large", make([]byte, ca.MaxCSRSize+1), 0, "at most 65536"},
		{"huge RSA modulus", hugeRSACSR(t, 200_000), 0, "200000 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ca.ParseCSR(tt.in)
			if tt.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if csr.PublicKeyAlgorithm != tt.alg {
					t.Fatalf("algorithm = %v, want %v", csr.PublicKeyAlgorithm, tt.alg)
				}
				return
			}
			le := mustCode(t, err, lanyard.EInvalidCSR)
			if !strings.Contains(le.Message, tt.msg) {
				t.Fatalf("message %q does not contain %q", le.Message, tt.msg)
			}
		})
	}
}

func TestParsePublicKey(t *testing.T) {
	der, err := x509.MarshalPKIXPublicKey(mustKey(t, "p384").Public())
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"DER": der, "PEM": pemOf("PUBLIC KEY", der)} {
		pub, err := ca.ParsePublicKey(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if lanyard.KeyAlgorithmOf(pub) != lanyard.ECP384 {
			t.Fatalf("%s: got %T", name, pub)
		}
	}
	for name, in := range map[string][]byte{
		"empty":          nil,
		"truncated":      der[:len(der)-1],
		"trailing":       append(bytes.Clone(der), 0),
		"CSR not SPKI":   mustCSR(t, "p256"),
		"wrong PEM type": pemOf("RSA PUBLIC KEY", der),
		"too large":      make([]byte, ca.MaxCSRSize+1),
	} {
		if _, err := ca.ParsePublicKey(in); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: error = %v, want %s", name, err, lanyard.EInvalid)
		}
	}
}

// FuzzParseCSR checks that no input makes ParseCSR panic and that every
// answer is either a CSR whose signature verifies or an EInvalidCSR error.
func FuzzParseCSR(f *testing.F) {
	p256, rsa := mustCSR(f, "p256"), mustCSR(f, "rsa2048")
	f.Add(p256)
	f.Add(rsa)
	f.Add(pemOf("CERTIFICATE REQUEST", p256))
	f.Add(p256[:len(p256)-10])
	f.Add(rsa[:40])
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff, 0x30})
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		csr, err := ca.ParseCSR(in)
		if err != nil {
			var le *lanyard.Error
			if !errors.As(err, &le) || le.Code != lanyard.EInvalidCSR || le.Message == "" {
				t.Fatalf("error %v is not an EInvalidCSR with a message", err)
			}
			if csr != nil {
				t.Fatal("CSR returned with an error")
			}
			return
		}
		if csr == nil || csr.PublicKey == nil {
			t.Fatal("nil CSR or key without an error")
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted CSR does not verify: %v", err)
		}
	})
}
