package ca_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Keys are expensive to make (RSA especially); tests share one of each.
var (
	keysOnce sync.Once
	keys     map[string]crypto.Signer
)

func mustKey(tb testing.TB, kind string) crypto.Signer {
	tb.Helper()
	keysOnce.Do(func() {
		keys = map[string]crypto.Signer{}
		gen := map[string]func() (crypto.Signer, error){
			"p256":    func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
			"p384":    func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) },
			"p521":    func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) },
			"rsa2048": func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) },
		}
		for k, f := range gen {
			s, err := f()
			if err != nil {
				panic(err)
			}
			keys[k] = s
		}
	})
	k, ok := keys[kind]
	if !ok {
		tb.Fatalf("no test key %q", kind)
	}
	return k
}

// mustCode fails unless err is a *lanyard.Error with the given code.
func mustCode(tb testing.TB, err error, code string) *lanyard.Error {
	tb.Helper()
	var le *lanyard.Error
	if !errors.As(err, &le) {
		tb.Fatalf("error = %v (%T), want *lanyard.Error with code %s", err, err, code)
	}
	if le.Code != code {
		tb.Fatalf("error code = %s (%v), want %s", le.Code, err, code)
	}
	return le
}

// mustIssuer returns a throw-away self-signed CA to sign profile output with.
func mustIssuer(tb testing.TB) (*x509.Certificate, crypto.Signer) {
	tb.Helper()
	key := mustKey(tb, "p384")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Profile Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c, key
}

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// sanNames decodes a certificate's subjectAltName independently of the
// encoder under test: RFC 5280 4.2.1.6 GeneralNames, otherName [0] with a
// [0] EXPLICIT UTF8String value, rfc822Name [1] IA5String.
func sanNames(tb testing.TB, c *x509.Certificate) (upns, emails []string, critical, present bool) {
	tb.Helper()
	var ext *pkix.Extension
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(oidSAN) {
			if ext != nil {
				tb.Fatal("two subjectAltName extensions")
			}
			ext = &c.Extensions[i]
		}
	}
	if ext == nil {
		return nil, nil, false, false
	}
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(ext.Value, &names); err != nil || len(rest) > 0 {
		tb.Fatalf("SAN does not decode as GeneralNames: %v", err)
	}
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific {
			tb.Fatalf("GeneralName class %d, want context-specific", n.Class)
		}
		switch n.Tag {
		case 0:
			if !n.IsCompound {
				tb.Fatal("otherName is not constructed")
			}
			var on struct {
				TypeID asn1.ObjectIdentifier
				Value  asn1.RawValue // [0] EXPLICIT wrapper
			}
			if rest, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil || len(rest) > 0 {
				tb.Fatalf("otherName does not decode: %v", err)
			}
			if !on.TypeID.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}) {
				tb.Fatalf("otherName type-id %v, want UPN", on.TypeID)
			}
			if on.Value.Class != asn1.ClassContextSpecific || on.Value.Tag != 0 || !on.Value.IsCompound {
				tb.Fatalf("otherName value is not [0] EXPLICIT: class %d tag %d", on.Value.Class, on.Value.Tag)
			}
			var str asn1.RawValue
			if rest, err := asn1.Unmarshal(on.Value.Bytes, &str); err != nil || len(rest) > 0 {
				tb.Fatalf("UPN value does not decode: %v", err)
			}
			if str.Class != asn1.ClassUniversal || str.Tag != asn1.TagUTF8String {
				tb.Fatalf("UPN value has class %d tag %d, want UTF8String", str.Class, str.Tag)
			}
			upns = append(upns, string(str.Bytes))
		case 1:
			if n.IsCompound {
				tb.Fatal("rfc822Name is constructed")
			}
			emails = append(emails, string(n.Bytes))
		default:
			tb.Fatalf("unexpected GeneralName tag %d", n.Tag)
		}
	}
	return upns, emails, ext.Critical, true
}
