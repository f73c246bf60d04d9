package emu_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// pkcs1v15 builds the EMSA-PKCS1-v1_5 block the client sends for a
// SHA-256 signature (RFC 8017, 9.2), as piv-go and OpenSC do.
func pkcs1v15(k int, digest []byte) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	t := append(prefix, digest...)
	em := bytes.Repeat([]byte{0xFF}, k)
	em[0], em[1] = 0x00, 0x01
	em[k-len(t)-1] = 0x00
	copy(em[k-len(t):], t)
	return em
}

func TestGenerateAndSign(t *testing.T) {
	msg := []byte("Lanyard signs this")
	tests := []struct {
		alg  emu.Algorithm
		keys emu.KeyStore
	}{
		{pivspec.AlgECCP256, emu.SoftKeyStore{}},
		{pivspec.AlgECCP384, emu.SoftKeyStore{}},
		{pivspec.AlgRSA1024, emu.SoftKeyStore{}},
		{pivspec.AlgRSA2048, emu.SoftKeyStore{}},
		{pivspec.AlgRSA3072, pooledKeys{}},
		{pivspec.AlgRSA4096, pooledKeys{}},
	}
	for _, tt := range tests {
		t.Run(tt.alg.String(), func(t *testing.T) {
			c := newCard(t, emu.WithKeyStore(tt.keys))
			c.authDefault()
			pub := c.generate(0x9A, tt.alg)
			c.verifyPIN(pivspec.DefaultPIN)
			switch p := pub.(type) {
			case *ecdsa.PublicKey:
				if p.Curve != ecdsaCurve(tt.alg) {
					t.Fatalf("curve %s", p.Curve.Params().Name)
				}
				digests := [][]byte{sha1Sum(msg), sha256Sum(msg)}
				if tt.alg == pivspec.AlgECCP384 {
					digests = append(digests, sha384Sum(msg))
				}
				for _, d := range digests {
					sig := field(t, c.sign(tt.alg, 0x9A, d).Data, 0x82)
					if !ecdsa.VerifyASN1(p, d, sig) {
						t.Fatalf("ECDSA signature over a %d-byte digest does not verify", len(d))
					}
				}
			case *rsa.PublicKey:
				if p.N.BitLen() != tt.alg.RSABits() || p.E != 65537 {
					t.Fatalf("RSA key of %d bits, e=%d", p.N.BitLen(), p.E)
				}
				d := sha256Sum(msg)
				sig := field(t, c.must(0x87, byte(tt.alg), 0x9A, tlv(0x7C, append(tlv(0x82, nil), tlv(0x81, pkcs1v15(p.Size(), d))...))), 0x82)
				if err := rsa.VerifyPKCS1v15(p, crypto.SHA256, d, sig); err != nil {
					t.Fatalf("PKCS#1 v1.5 signature: %v", err)
				}
				// Raw: any m < n comes back as m^d, whatever the padding.
				m, _ := rand.Int(rand.Reader, p.N)
				s := field(t, c.sign(tt.alg, 0x9A, m.FillBytes(make([]byte, p.Size()))).Data, 0x82)
				if len(s) != p.Size() || new(big.Int).Exp(new(big.Int).SetBytes(s), big.NewInt(int64(p.E)), p.N).Cmp(m) != 0 {
					t.Fatal("raw RSA result is not m^d")
				}
				// Decryption is the same operation: c = m^e comes back as m.
				c2 := new(big.Int).Exp(m, big.NewInt(int64(p.E)), p.N)
				got := field(t, c.sign(tt.alg, 0x9A, c2.FillBytes(make([]byte, p.Size()))).Data, 0x82)
				if new(big.Int).SetBytes(got).Cmp(m) != 0 {
					t.Fatal("raw RSA decryption does not invert the public operation")
				}
			default:
				t.Fatalf("public key %T", pub)
			}
		})
	}
}

func TestECDH(t *testing.T) {
	for _, alg := range []emu.Algorithm{pivspec.AlgECCP256, pivspec.AlgECCP384} {
		t.Run(alg.String(), func(t *testing.T) {
			c := newCard(t)
			c.authDefault()
			pub := c.generate(0x9D, alg).(*ecdsa.PublicKey)
			cardPub, err := pub.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			curve := ecdh.P256()
			if alg == pivspec.AlgECCP384 {
				curve = ecdh.P384()
			}
			peer, err := curve.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			c.verifyPIN(pivspec.DefaultPIN)
			got := field(t, c.must(0x87, byte(alg), 0x9D, tlv(0x7C, append(tlv(0x82, nil), tlv(0x85, peer.PublicKey().Bytes())...))), 0x82)
			want, err := peer.ECDH(cardPub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("shared secret %X, want %X", got, want)
			}
			bad := bytes.Clone(peer.PublicKey().Bytes())
			bad[len(bad)-1] ^= 1 // off the curve
			c.expect(apdu.SWIncorrectData, 0x87, byte(alg), 0x9D, tlv(0x7C, append(tlv(0x82, nil), tlv(0x85, bad)...)))
		})
	}
}

func TestPINPolicies(t *testing.T) {
	digest := sha256Sum([]byte("x"))
	tests := []struct {
		name  string
		slot  byte
		extra []byte // AA/AB in the GENERATE template
		want  emu.PINPolicy
	}{
		{"9A default once", 0x9A, nil, pivspec.PINPolicyOnce},
		{"9C default always", 0x9C, nil, pivspec.PINPolicyAlways},
		{"9D default once", 0x9D, nil, pivspec.PINPolicyOnce},
		{"9E default never", 0x9E, nil, pivspec.PINPolicyNever},
		{"retired 82 default once", 0x82, nil, pivspec.PINPolicyOnce},
		{"retired 95 default once", 0x95, nil, pivspec.PINPolicyOnce},
		{"9A never", 0x9A, mustHex(t, "AA0101"), pivspec.PINPolicyNever},
		{"9E always", 0x9E, mustHex(t, "AA0103 AB0102"), pivspec.PINPolicyAlways},
		{"9C once", 0x9C, mustHex(t, "AA0102"), pivspec.PINPolicyOnce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCard(t)
			c.authDefault()
			c.generate(tt.slot, pivspec.AlgECCP256, tt.extra...)
			meta := c.must(0xF7, 0x00, tt.slot, nil)
			if !bytes.Contains(meta, []byte{0x02, 0x02, byte(tt.want)}) {
				t.Fatalf("metadata %X does not report PIN policy %d", meta, tt.want)
			}
			sign := func() apdu.SW { return c.sign(pivspec.AlgECCP256, tt.slot, digest).SW }
			switch tt.want {
			case pivspec.PINPolicyNever:
				if sw := sign(); sw != apdu.SWOK {
					t.Fatalf("without PIN: %v", sw)
				}
			case pivspec.PINPolicyOnce:
				if sw := sign(); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Fatalf("without PIN: %v", sw)
				}
				c.verifyPIN(pivspec.DefaultPIN)
				for i := 0; i < 3; i++ {
					if sw := sign(); sw != apdu.SWOK {
						t.Fatalf("use %d after one VERIFY: %v", i+1, sw)
					}
				}
				c.card.Reset()
				c.selectPIV()
				if sw := sign(); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Fatalf("after a card reset: %v", sw)
				}
			case pivspec.PINPolicyAlways:
				if sw := sign(); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Fatalf("without PIN: %v", sw)
				}
				c.verifyPIN(pivspec.DefaultPIN)
				if sw := sign(); sw != apdu.SWOK {
					t.Fatalf("right after VERIFY: %v", sw)
				}
				if sw := sign(); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Fatalf("second use after one VERIFY: %v", sw)
				}
				c.must(0x20, 0x00, 0x80, nil) // asking the status is no verification
				if sw := sign(); sw != apdu.SWSecurityStatusNotSatisfied {
					t.Fatalf("after a status query: %v", sw)
				}
				c.verifyPIN(pivspec.DefaultPIN)
				if sw := sign(); sw != apdu.SWOK {
					t.Fatalf("after a second VERIFY: %v", sw)
				}
			}
		})
	}
}

func TestPrivateKeyErrors(t *testing.T) {
	c := newCard(t, emu.WithKeyStore(pooledKeys{}))
	c.authDefault()
	c.generate(0x9A, pivspec.AlgECCP384)
	rsaPub := c.generate(0x9C, pivspec.AlgRSA2048, mustHex(t, "AA0101")...).(*rsa.PublicKey)
	c.verifyPIN(pivspec.DefaultPIN)
	req := func(objs ...[]byte) []byte { return tlv(0x7C, bytes.Join(objs, nil)) }
	d48 := make([]byte, 48)
	tests := []struct {
		name   string
		p1, p2 byte
		data   []byte
		want   apdu.SW
	}{
		{"empty slot", 0x11, 0x9D, req(tlv(0x82, nil), tlv(0x81, d48[:32])), apdu.SWReferenceNotFound},
		{"not a key slot", 0x11, 0x80, req(tlv(0x82, nil), tlv(0x81, d48[:32])), apdu.SWReferenceNotFound},
		{"attestation key", 0x11, 0xF9, req(tlv(0x82, nil), tlv(0x81, d48[:32])), apdu.SWReferenceNotFound},
		{"algorithm not the key's", 0x11, 0x9A, req(tlv(0x82, nil), tlv(0x81, d48[:32])), apdu.SWIncorrectP1P2},
		{"no response request", 0x14, 0x9A, req(tlv(0x81, d48)), apdu.SWIncorrectData},
		{"non-empty response", 0x14, 0x9A, req(tlv(0x82, []byte{1}), tlv(0x81, d48)), apdu.SWIncorrectData},
		{"challenge and exponentiation", 0x14, 0x9A, req(tlv(0x82, nil), tlv(0x81, d48), tlv(0x85, d48)), apdu.SWIncorrectData},
		{"neither", 0x14, 0x9A, req(tlv(0x82, nil)), apdu.SWIncorrectData},
		{"witness", 0x14, 0x9A, req(tlv(0x80, nil), tlv(0x82, nil), tlv(0x81, d48)), apdu.SWIncorrectData},
		{"digest longer than the curve", 0x14, 0x9A, req(tlv(0x82, nil), tlv(0x81, make([]byte, 49))), apdu.SWIncorrectData},
		{"empty digest", 0x14, 0x9A, req(tlv(0x82, nil), tlv(0x81, nil)), apdu.SWIncorrectData},
		{"not a template", 0x14, 0x9A, tlv(0x53, d48), apdu.SWIncorrectData},
		{"RSA input too short", 0x07, 0x9C, req(tlv(0x82, nil), tlv(0x81, make([]byte, 255))), apdu.SWIncorrectData},
		{"RSA input not below n", 0x07, 0x9C, req(tlv(0x82, nil), tlv(0x81, rsaPub.N.Bytes())), apdu.SWIncorrectData},
		{"ECDH with an RSA key", 0x07, 0x9C, req(tlv(0x82, nil), tlv(0x85, d48)), apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.with(t).expect(tt.want, 0x87, tt.p1, tt.p2, tt.data)
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	c := newCard(t)
	ec := mustHex(t, "AC03800111")
	c.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9A, ec)
	c.authDefault()
	tests := []struct {
		name   string
		p1, p2 byte
		data   string
		want   apdu.SW
	}{
		{"bad P1", 0x01, 0x9A, "AC03800111", apdu.SWIncorrectP1P2},
		{"management key slot", 0x00, 0x9B, "AC03800111", apdu.SWIncorrectP1P2},
		{"attestation slot", 0x00, 0xF9, "AC03800111", apdu.SWIncorrectP1P2},
		{"PIN reference", 0x00, 0x80, "AC03800111", apdu.SWIncorrectP1P2},
		{"retired slot 96", 0x00, 0x96, "AC03800111", apdu.SWIncorrectP1P2},
		{"unknown algorithm", 0x00, 0x9A, "AC03800113", apdu.SWIncorrectData},
		{"symmetric algorithm", 0x00, 0x9A, "AC03800103", apdu.SWIncorrectData},
		{"no algorithm", 0x00, 0x9A, "AC03AA0101", apdu.SWIncorrectData},
		{"no template", 0x00, 0x9A, "800111", apdu.SWIncorrectData},
		{"unknown tag", 0x00, 0x9A, "AC06800111810101", apdu.SWIncorrectData},
		{"repeated algorithm", 0x00, 0x9A, "AC06800111800114", apdu.SWIncorrectData},
		{"two-byte algorithm", 0x00, 0x9A, "AC0480021100", apdu.SWIncorrectData},
		{"PIN policy out of range", 0x00, 0x9A, "AC06800111AA0104", apdu.SWIncorrectData},
		{"touch policy out of range", 0x00, 0x9A, "AC06800111AB0104", apdu.SWIncorrectData},
		{"truncated", 0x00, 0x9A, "AC048001", apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.with(t).expect(tt.want, 0x47, tt.p1, tt.p2, mustHex(t, tt.data))
		})
	}
	// A new key replaces the old one.
	first := c.generate(0x9A, pivspec.AlgECCP256).(*ecdsa.PublicKey)
	second := c.generate(0x9A, pivspec.AlgECCP256).(*ecdsa.PublicKey)
	if first.Equal(second) {
		t.Fatal("GENERATE returned the same key twice")
	}
	c.verifyPIN(pivspec.DefaultPIN)
	d := sha256Sum([]byte("y"))
	if !ecdsa.VerifyASN1(second, d, field(t, c.sign(pivspec.AlgECCP256, 0x9A, d).Data, 0x82)) {
		t.Fatal("the slot does not sign with the new key")
	}
}

func sha1Sum(b []byte) []byte   { s := sha1.Sum(b); return s[:] }
func sha256Sum(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
func sha384Sum(b []byte) []byte { s := sha512.Sum384(b); return s[:] }
