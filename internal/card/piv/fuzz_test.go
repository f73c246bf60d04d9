package piv

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// The fuzz targets feed card responses to the parsers: a card, or
// something pretending to be one, controls every byte of them. None may
// panic, and every rejection must say why with the package's errors.

func fuzzHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// parseError reports whether err is one the parsers may return.
func parseError(err error) bool {
	return errors.Is(err, apdu.ErrMalformed) || errors.Is(err, ErrUnsupported)
}

// FuzzParsePublicKey: the contents of a 7F49 template (GENERATE) or of
// metadata tag 04 parse to a key of exactly the algorithm's size, whose
// encoding is what the card sent.
func FuzzParsePublicKey(f *testing.F) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	point, _ := ec.PublicKey.Bytes()
	f.Add(byte(pivspec.AlgECCP256), apdu.AppendTLV(nil, 0x86, point))
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	rsaTmpl := apdu.AppendTLV(apdu.AppendTLV(nil, 0x81, r.N.Bytes()), 0x82, []byte{1, 0, 1})
	f.Add(byte(pivspec.AlgRSA2048), rsaTmpl)
	f.Add(byte(pivspec.AlgRSA1024), rsaTmpl)
	f.Add(byte(pivspec.AlgECCP384), apdu.AppendTLV(nil, 0x86, point))
	f.Add(byte(pivspec.AlgEd25519), fuzzHex(f, "8620 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"))
	f.Add(byte(pivspec.AlgRSA2048), fuzzHex(f, "8101FF 8200"))
	f.Fuzz(func(t *testing.T, alg byte, b []byte) {
		pub, err := parsePublicKey(Algorithm(alg), b)
		if err != nil {
			if !parseError(err) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		tlvs, _ := apdu.ParseTLVs(b)
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			p, _ := apdu.Find(tlvs, 0x86)
			enc, err := k.Bytes()
			if err != nil || !bytes.Equal(enc, p.Value) || k.Curve != Algorithm(alg).Curve() {
				t.Fatalf("EC key %v does not encode back to %X", k, p.Value)
			}
		case *rsa.PublicKey:
			n, _ := apdu.Find(tlvs, 0x81)
			if k.N.BitLen() != Algorithm(alg).RSABits() || k.N.Cmp(new(big.Int).SetBytes(n.Value)) != 0 || k.E < 3 || k.E%2 == 0 {
				t.Fatalf("RSA key of %d bits, e %d, for %v", k.N.BitLen(), k.E, Algorithm(alg))
			}
		default:
			t.Fatalf("key of type %T", pub)
		}
	})
}

// FuzzParseApplication: an application property template always has an
// AID when it parses.
func FuzzParseApplication(f *testing.F) {
	for _, s := range []string{
		"6111 4F06000010000100 7907 4F05A000000308",
		"6130 4F0BA0000003080000100001 00 7907 4F05A000000308 5004 50495620 5F5004 782E6F72 AC0B 800111 800107 800114 0600",
		"6100", "6102 4F00", "6104 7902 4F00", "6103 AC01 80", "61 81 02 4F00",
	} {
		f.Add(fuzzHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		app, err := parseApplication(b)
		if err != nil {
			if !parseError(err) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(app.AID) == 0 {
			t.Fatal("accepted a template without AID")
		}
	})
}

// FuzzParseCHUID: parsed GUIDs and FASC-Ns have their fixed sizes.
func FuzzParseCHUID(f *testing.F) {
	for _, s := range []string{
		"3019 D4E739DA739CED39CE739D836858210842108421C84210C3EB 3410 00112233445566778899AABBCCDDEEFF 3508 3230333031323331 3E00 FE00",
		"3410 00112233445566778899AABBCCDDEEFF", "3508 3230333031333332", "", "EE020000 FE00", "3400",
	} {
		f.Add(fuzzHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := ParseCHUID(b)
		if err != nil {
			if !parseError(err) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if ch.GUID != nil && len(ch.GUID) != 16 || ch.FASCN != nil && len(ch.FASCN) != fascnLen {
			t.Fatalf("GUID %X, FASC-N %X", ch.GUID, ch.FASCN)
		}
		if len(ch.FASCN) > 0 {
			if _, err := ParseFASCN(ch.FASCN); err != nil && !parseError(err) {
				t.Fatalf("FASC-N error %v", err)
			}
		}
	})
}

// FuzzParseFASCN: a FASC-N that parses has digits only, in fields of the
// TIG's sizes.
func FuzzParseFASCN(f *testing.F) {
	f.Add(fuzzHex(f, "D4E739DA739CED39CE739D836858210842108421C84210C3EB"))
	f.Add(make([]byte, fascnLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		fn, err := ParseFASCN(b)
		if err != nil {
			if !parseError(err) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		for _, fld := range []struct {
			s string
			n int
		}{
			{fn.AgencyCode, 4}, {fn.SystemCode, 4}, {fn.CredentialNumber, 6}, {fn.CredentialSeries, 1},
			{fn.IssueLevel, 1}, {fn.PersonID, 10}, {fn.OrgCategory, 1}, {fn.OrgID, 4}, {fn.Association, 1},
		} {
			if len(fld.s) != fld.n || strings.Trim(fld.s, "0123456789") != "" {
				t.Fatalf("field %q, want %d digits", fld.s, fld.n)
			}
		}
	})
}

// FuzzParseMetadata: GET METADATA responses parse or fail cleanly; retry
// counts and policies come from the bytes that were sent.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range []string{
		"0101FF 050101 06020302", "010103 02020001 050100", "010111 02020201 030101 0403 860100",
		"0443 8641 04", "01021111", "060103", "0101E0 0403 860100",
	} {
		f.Add(fuzzHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMetadata(b)
		if err != nil {
			if !parseError(err) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrUnsupported", err)
			}
			return
		}
		tlvs, _ := apdu.ParseTLVs(b)
		if _, ok := apdu.Find(tlvs, 0x04); ok != (m.PublicKey != nil) {
			t.Fatalf("public key %v, tag 04 present %v", m.PublicKey, ok)
		}
		if m.Retries > 255 || m.RetriesLeft > 255 || m.Retries < 0 || m.RetriesLeft < 0 {
			t.Fatalf("retries %d/%d", m.RetriesLeft, m.Retries)
		}
	})
}

// FuzzParseCertificateObject: certificate objects parse to a certificate
// or fail, compressed ones included, without unbounded decompression.
func FuzzParseCertificateObject(f *testing.F) {
	for _, s := range []string{"7003010203 710100 FE00", "710101", "7000", "7003 1F8B08 710101"} {
		f.Add(fuzzHex(f, s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cert, err := parseCertificateObject(b)
		if err == nil && (cert == nil || len(cert.Raw) == 0) {
			t.Fatal("no certificate and no error")
		}
	})
}
