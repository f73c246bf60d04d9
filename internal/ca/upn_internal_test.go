package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestParseSANUPNs reads back what marshalSAN writes and refuses the
// malformed encodings by hand (RFC 5280 4.2.1.6, X.690 DER).
func TestParseSANUPNs(t *testing.T) {
	mustHex := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const upnOID = "060a2b060104018237140203"
	cases := []struct {
		name string
		der  []byte
		want []string
		err  string
	}{
		{"UPN and e-mail", mustHex("301a a013 " + upnOID + " a005 0c03614062 8103634064"), []string{"a@b"}, ""},
		{"e-mail only", mustHex("3005 8103634064"), nil, ""},
		{"other otherName", mustHex("3013 a011 060a2b060104018237140201 a003 0c0161"), nil, ""},
		{"two UPNs", mustHex("302a a013 " + upnOID + " a005 0c03614062 a013 " + upnOID + " a005 0c03634064"), []string{"a@b", "c@d"}, ""},
		{"UPN as IA5String", mustHex("3015 a013 " + upnOID + " a005 1603614062"), nil, "not a UTF8String"},
		{"UPN not UTF-8", mustHex("3015 a013 " + upnOID + " a005 0c03ff4062"), nil, "not a UTF8String"},
		{"bytes after the UTF8String", mustHex("3015 a013 " + upnOID + " a005 0c01610500"), nil, "not a UTF8String"},
		{"value not explicit [0]", mustHex("3015 a013 " + upnOID + " a105 0c03614062"), nil, "malformed"},
		{"bytes after the value", mustHex("3017 a015 " + upnOID + " a005 0c03614062 0500"), nil, "malformed"},
		{"trailing bytes", mustHex("3005 8103634064 00"), nil, "malformed"},
		{"empty GeneralNames", mustHex("3000"), nil, "malformed"},
		{"truncated", mustHex("301a a013 " + upnOID), nil, "malformed"},
		{"not a sequence", mustHex("0500"), nil, "malformed"},
		{"long-form length of a short value (not DER)", mustHex("308105 8103634064"), nil, "malformed"},
		{"nothing", nil, nil, "malformed"},
	}
	for _, c := range cases {
		got, err := ParseSANUPNs(c.der)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: got %q, %v; want an error with %q", c.name, got, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	// What marshalSAN writes reads back, for names of every kind validUPN takes.
	for _, upn := range []string{"a@b", "jürgen.müller@example.com", "x@" + strings.Repeat("y", 300)} {
		ext, err := marshalSAN(upn, "e@example.com", false)
		if err != nil {
			t.Fatal(err)
		}
		got, err := CertificateUPN(&x509.Certificate{Extensions: []pkix.Extension{ext}})
		if err != nil || got != upn {
			t.Errorf("round trip of %q: %q, %v", upn, got, err)
		}
	}
}

// TestCertificateUPN: exactly one well-formed UPN, or a reason.
func TestCertificateUPN(t *testing.T) {
	cert := func(upns ...string) *x509.Certificate {
		var exts []pkix.Extension
		for _, u := range upns {
			ext, err := marshalSAN(u, "", false)
			if err != nil {
				t.Fatal(err)
			}
			exts = append(exts, ext)
		}
		if len(exts) > 1 { // two UPNs in one extension
			two := exts[0]
			two.Value = append(slices.Clone(exts[0].Value[2:]), exts[1].Value[2:]...)
			two.Value = append([]byte{0x30, byte(len(two.Value))}, two.Value...)
			exts = []pkix.Extension{two}
		}
		return &x509.Certificate{Extensions: exts}
	}
	if _, err := CertificateUPN(cert()); !errors.Is(err, ErrNoUPN) {
		t.Errorf("no SAN: %v, want ErrNoUPN", err)
	}
	email, _ := marshalSAN("", "e@example.com", false)
	if _, err := CertificateUPN(&x509.Certificate{Extensions: []pkix.Extension{email}}); !errors.Is(err, ErrNoUPN) {
		t.Errorf("e-mail only: %v, want ErrNoUPN", err)
	}
	if _, err := CertificateUPN(cert("a@b", "c@d")); err == nil || !strings.Contains(err.Error(), "more than one") {
		t.Errorf("two UPNs: %v", err)
	}
	for _, bad := range []string{"nobody", "a b@c", "a@", "@b", "a\x00@b"} {
		if _, err := CertificateUPN(cert(bad)); err == nil || errors.Is(err, ErrNoUPN) {
			t.Errorf("UPN %q: %v, want refused as malformed", bad, err)
		}
	}
}

// FuzzParseSANUPNs: any input gives names or an error, never a panic;
// what it returns is valid UTF-8 and, re-encoded by marshalSAN (one UPN
// at a time), parses back to itself.
func FuzzParseSANUPNs(f *testing.F) {
	for _, s := range []string{
		"301a a013 060a2b060104018237140203 a005 0c03614062 8103634064",
		"3005 8103634064",
		"3013 a011 060a2b060104018237140201 a003 0c0161",
	} {
		b, _ := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		upns, err := ParseSANUPNs(der)
		if err != nil {
			return
		}
		for _, u := range upns {
			if !validUPN(u) {
				continue
			}
			ext, err := marshalSAN(u, "", false)
			if err != nil {
				t.Fatalf("marshalSAN(%q): %v", u, err)
			}
			back, err := ParseSANUPNs(ext.Value)
			if err != nil || len(back) != 1 || back[0] != u {
				t.Fatalf("%q re-encoded parses as %q, %v", u, back, err)
			}
		}
	})
}
