package emu_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestVersionAndSerial(t *testing.T) {
	c := newCard(t)
	if v := c.must(0xFD, 0, 0, nil); !bytes.Equal(v, []byte{5, 4, 3}) {
		t.Fatalf("version %X", v)
	}
	s := c.must(0xF8, 0, 0, nil)
	if len(s) != 4 || binary.BigEndian.Uint32(s) != c.card.Serial() {
		t.Fatalf("serial %X, card says %d", s, c.card.Serial())
	}
	c.expect(apdu.SWIncorrectP1P2, 0xFD, 1, 0, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF8, 0, 1, nil)
	c.expect(apdu.SWWrongLength, 0xFD, 0, 0, []byte{1})
	c.expect(apdu.SWWrongLength, 0xF8, 0, 0, []byte{1})
}

func TestMetadata(t *testing.T) {
	c := newCard(t)
	tests := []struct {
		name string
		p2   byte
		want string
	}{
		{"management key, default", 0x9B, "010103 02020001 050101"},
		{"PIN, default", 0x80, "0101FF 050101 06020303"},
		{"PUK, default", 0x81, "0101FF 050101 06020303"},
	}
	for _, tt := range tests {
		if got := c.must(0xF7, 0x00, tt.p2, nil); !bytes.Equal(got, mustHex(t, tt.want)) {
			t.Errorf("%s: %X, want %s", tt.name, got, tt.want)
		}
	}
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, pad("000000"))
	c.must(0x24, 0x00, 0x81, append(pad(pivspec.DefaultPUK), pad("87654321")...))
	if got := c.must(0xF7, 0x00, 0x80, nil); !bytes.Equal(got, mustHex(t, "0101FF 050101 06020302")) {
		t.Errorf("PIN after a wrong try: %X", got)
	}
	if got := c.must(0xF7, 0x00, 0x81, nil); !bytes.Equal(got, mustHex(t, "0101FF 050100 06020303")) {
		t.Errorf("PUK after a change: %X", got)
	}

	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x9A, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF7, 0x00, 0x00, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xF7, 0x01, 0x9B, nil)
	c.expect(apdu.SWWrongLength, 0xF7, 0x00, 0x9B, []byte{1})

	c.authDefault()
	pub := c.generate(0x9D, pivspec.AlgECCP384, mustHex(t, "AB0103")...)
	meta := c.must(0xF7, 0x00, 0x9D, nil)
	tlvs, err := apdu.ParseTLVs(meta)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32][]byte{0x01: {0x14}, 0x02: {0x02, 0x03}, 0x03: {0x01}}
	for tag, v := range want {
		if got, ok := apdu.Find(tlvs, tag); !ok || !bytes.Equal(got.Value, v) {
			t.Errorf("metadata tag %02X: %X, want %X", tag, got.Value, v)
		}
	}
	pk, _ := apdu.Find(tlvs, 0x04)
	got, err := decodePublicObjects(pivspec.AlgECCP384, pk.Value)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(got) {
		t.Fatalf("metadata public key %v differs from GENERATE's (%v)", got, err)
	}
	att := c.must(0xF7, 0x00, 0xF9, nil)
	if !bytes.HasPrefix(att, mustHex(t, "010111 02020101 030101 04")) {
		t.Fatalf("attestation key metadata %X", att)
	}
}

func TestSetPINRetries(t *testing.T) {
	c := newCard(t)
	c.must(0x24, 0x00, 0x80, append(pad(pivspec.DefaultPIN), pad("222222")...))
	c.selectPIV()
	c.authDefault()
	c.expect(apdu.SWSecurityStatusNotSatisfied, 0xFA, 5, 4, nil) // PIN not verified
	c.verifyPIN("222222")
	c.expect(apdu.SWIncorrectP1P2, 0xFA, 0, 4, nil)
	c.expect(apdu.SWIncorrectP1P2, 0xFA, 5, 0, nil)
	c.expect(apdu.SWWrongLength, 0xFA, 5, 4, []byte{1})
	c.must(0xFA, 5, 4, nil)
	// The PIN and PUK are back to their defaults, with the new counters.
	c.expect(apdu.VerifyFailed(5), 0x20, 0x00, 0x80, nil)
	c.expect(apdu.VerifyFailed(4), 0x20, 0x00, 0x80, pad("222222"))
	c.verifyPIN(pivspec.DefaultPIN)
	if got := c.must(0xF7, 0x00, 0x81, nil); !bytes.Equal(got, mustHex(t, "0101FF 050101 06020404")) {
		t.Fatalf("PUK metadata %X", got)
	}

	c2 := newCard(t)
	c2.verifyPIN(pivspec.DefaultPIN)
	c2.expect(apdu.SWSecurityStatusNotSatisfied, 0xFA, 5, 4, nil) // no management key
}

func TestReset(t *testing.T) {
	c := newCard(t)
	c.authDefault()
	c.generate(0x9A, pivspec.AlgECCP256)
	if sw := c.putData(mustHex(t, "5FC105"), mustHex(t, "7003010203 710100 FE00")); sw != apdu.SWOK {
		t.Fatal(sw)
	}
	c.must(0xFF, 0xFF, 0xFF, append([]byte{0x08, 0x9B, 16}, make([]byte, 16)...))
	serial := c.card.Serial()
	guid, _ := c.card.GUID()
	ca, err := c.card.AttestationCA()
	if err != nil {
		t.Fatal(err)
	}

	c.expect(apdu.SWConditionsNotSatisfied, 0xFB, 0, 0, nil)
	for i := 0; i < 3; i++ {
		c.send(0x20, 0x00, 0x80, pad("000000"))
	}
	c.expect(apdu.SWConditionsNotSatisfied, 0xFB, 0, 0, nil) // PUK not yet blocked
	for i := 0; i < 3; i++ {
		c.send(0x24, 0x00, 0x81, append(pad("00000000"), pad("00000000")...))
	}
	c.expect(apdu.SWIncorrectP1P2, 0xFB, 1, 0, nil)
	c.expect(apdu.SWWrongLength, 0xFB, 0, 0, []byte{0})
	c.must(0xFB, 0, 0, nil)

	c.verifyPIN(pivspec.DefaultPIN)
	c.must(0x24, 0x00, 0x81, append(pad(pivspec.DefaultPUK), pad(pivspec.DefaultPUK)...))
	c.authDefault() // 3DES default again
	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x9A, nil)
	if sw := c.getData(mustHex(t, "5FC105")).SW; sw != apdu.SWNotFound {
		t.Fatalf("certificate after reset: %v", sw)
	}
	g2, ok := c.card.GUID()
	if !ok || g2 == guid {
		t.Fatal("reset kept the GUID")
	}
	if c.card.Serial() != serial {
		t.Fatal("reset changed the serial number")
	}
	ca2, err := c.card.AttestationCA()
	if err != nil || !ca2.Equal(ca) {
		t.Fatalf("reset changed the attestation certificate (%v)", err)
	}
	c.must(0xF7, 0x00, 0xF9, nil)
	for _, tag := range []string{"5FC102", "5FC107"} {
		if sw := c.getData(mustHex(t, tag)).SW; sw != apdu.SWOK {
			t.Fatalf("%s after reset: %v", tag, sw)
		}
	}
}

// importTLVs encodes a private key as IMPORT KEY's data, as piv-go does.
func importTLVs(priv crypto.Signer) (emu.Algorithm, []byte) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		n := k.Size() / 2
		var b []byte
		for i, v := range [][]byte{k.Primes[0].Bytes(), k.Primes[1].Bytes(), k.Precomputed.Dp.Bytes(), k.Precomputed.Dq.Bytes(), k.Precomputed.Qinv.Bytes()} {
			b = append(b, tlv(uint32(i+1), append(make([]byte, n-len(v)), v...))...)
		}
		alg := map[int]emu.Algorithm{1024: pivspec.AlgRSA1024, 2048: pivspec.AlgRSA2048, 3072: pivspec.AlgRSA3072, 4096: pivspec.AlgRSA4096}[k.N.BitLen()]
		return alg, b
	case *ecdsa.PrivateKey:
		d, _ := k.Bytes()
		alg := pivspec.AlgECCP256
		if k.Curve == elliptic.P384() {
			alg = pivspec.AlgECCP384
		}
		return alg, tlv(0x06, d)
	}
	panic("unsupported key")
}

func TestImportKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, priv := range []crypto.Signer{p256, p384, pooledRSA(t, 2048), pooledRSA(t, 1024)} {
		alg, data := importTLVs(priv)
		t.Run(alg.String(), func(t *testing.T) {
			c := newCard(t)
			c.expect(apdu.SWSecurityStatusNotSatisfied, 0xFE, byte(alg), 0x9A, data)
			c.authDefault()
			c.must(0xFE, byte(alg), 0x9A, append(bytes.Clone(data), mustHex(t, "AA0101 AB0101")...))
			meta := c.must(0xF7, 0x00, 0x9A, nil)
			if !bytes.HasPrefix(meta, []byte{0x01, 0x01, byte(alg), 0x02, 0x02, 0x01, 0x01, 0x03, 0x01, 0x02}) {
				t.Fatalf("metadata %X", meta)
			}
			d := sha256Sum([]byte("imported"))
			switch pub := priv.Public().(type) {
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, d, field(t, c.sign(alg, 0x9A, d).Data, 0x82)) {
					t.Fatal("signature with the imported key does not verify")
				}
			case *rsa.PublicKey:
				sig := field(t, c.sign(alg, 0x9A, pkcs1v15(pub.Size(), d)).Data, 0x82)
				if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
					t.Fatal(err)
				}
			}
			// Imported keys are not attested.
			c.expect(apdu.SWIncorrectData, 0xF9, 0x9A, 0x00, nil)
		})
	}

	rsaAlg, rsaData := importTLVs(pooledRSA(t, 2048))
	ecAlg, ecData := importTLVs(p256)
	broken := bytes.Clone(rsaData)
	broken[len(broken)-1] ^= 1 // q⁻¹ mod p no longer fits
	c := newCard(t)
	c.authDefault()
	tests := []struct {
		name   string
		p1, p2 byte
		data   []byte
		want   apdu.SW
	}{
		{"inconsistent CRT values", byte(rsaAlg), 0x9A, broken, apdu.SWIncorrectData},
		{"RSA data for an EC algorithm", byte(ecAlg), 0x9A, rsaData, apdu.SWIncorrectData},
		{"EC data for an RSA algorithm", byte(rsaAlg), 0x9A, ecData, apdu.SWIncorrectData},
		{"RSA 2048 parts as RSA 3072", byte(pivspec.AlgRSA3072), 0x9A, rsaData, apdu.SWIncorrectData},
		{"P-256 scalar as P-384", byte(pivspec.AlgECCP384), 0x9A, append(tlv(0x06, make([]byte, 47)), 1), apdu.SWIncorrectData},
		{"zero scalar", byte(ecAlg), 0x9A, tlv(0x06, make([]byte, 32)), apdu.SWIncorrectData},
		{"scalar too long", byte(ecAlg), 0x9A, tlv(0x06, make([]byte, 33)), apdu.SWIncorrectData},
		{"missing prime", byte(rsaAlg), 0x9A, rsaData[:len(rsaData)/2], apdu.SWIncorrectData},
		{"unknown tag", byte(ecAlg), 0x9A, append(bytes.Clone(ecData), tlv(0x07, []byte{1})...), apdu.SWIncorrectData},
		{"bad policy", byte(ecAlg), 0x9A, append(bytes.Clone(ecData), mustHex(t, "AA0109")...), apdu.SWIncorrectData},
		{"management key slot", byte(ecAlg), 0x9B, ecData, apdu.SWIncorrectP1P2},
		{"symmetric algorithm", 0x03, 0x9A, ecData, apdu.SWIncorrectP1P2},
		{"not TLV", byte(ecAlg), 0x9A, []byte{0x06, 0x40, 1}, apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.send(0xFE, tt.p1, tt.p2, tt.data).SW; got != tt.want {
				t.Fatalf("%v, want %v", got, tt.want)
			}
		})
	}
	c.expect(apdu.SWReferenceNotFound, 0xF7, 0x00, 0x9A, nil) // nothing was stored
}
