package ca_test

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func alice() *lanyard.User {
	return &lanyard.User{
		Login: "alice", DisplayName: "Alice Example", Email: "alice@corp.example",
		UPN: "alice@ad.corp.example", Groups: []string{"staff", "admins"},
	}
}

func logonTemplate() *lanyard.Template {
	return &lanyard.Template{
		Name: "logon", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.ECP256, lanyard.ECP384}, ValidityDays: 365,
		KeyUsage:    []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment},
		ExtKeyUsage: []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{
			CommonName: "{display_name}", Organization: "Corp", OrganizationalUnit: "{group}", Country: "DE",
			SANEmail: true, SANUPN: true,
		},
	}
}

func signingTemplate() *lanyard.Template {
	return &lanyard.Template{
		Name: "signing", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}, ValidityDays: 30,
		KeyUsage:    []string{lanyard.KUDigitalSignature, lanyard.KUContentCommitment},
		ExtKeyUsage: []string{lanyard.EKUDocumentSigning, lanyard.EKUEmailProtection, lanyard.EKUDocumentSigning},
		Subject:     lanyard.SubjectSpec{CommonName: "{login}", SANEmail: true},
	}
}

var testURLs = ca.CAURLs("https://lanyard.example:8443/", "builtin")

func TestCAURLs(t *testing.T) {
	want := ca.URLs{
		CRL:        "https://lanyard.example:8443/crl/builtin.crl",
		OCSP:       "https://lanyard.example:8443/ocsp",
		IssuerCert: "https://lanyard.example:8443/ca/builtin.crt",
	}
	if testURLs != want {
		t.Fatalf("CAURLs = %+v, want %+v", testURLs, want)
	}
}

func TestBuildCertificate(t *testing.T) {
	issuer, issuerKey := mustIssuer(t)
	notBefore := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	notAfter := notBefore.Add(365 * 24 * time.Hour)
	smartcard := []asn1.ObjectIdentifier{ca.OIDExtKeyUsageSmartCardLogon}

	tests := []struct {
		name    string
		tmpl    func() *lanyard.Template
		key     string
		subject string
		ku      x509.KeyUsage
		eku     []x509.ExtKeyUsage
		unkEKU  []asn1.ObjectIdentifier
		upns    []string
		emails  []string
		noSAN   bool
	}{
		{
			name: "logon P-256 drops keyEncipherment (RFC 5480 3)", tmpl: logonTemplate, key: "p256",
			subject: "CN=Alice Example,OU=staff,O=Corp,C=DE",
			ku:      x509.KeyUsageDigitalSignature,
			eku:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, unkEKU: smartcard,
			upns: []string{"alice@ad.corp.example"}, emails: []string{"alice@corp.example"},
		},
		{
			name: "logon RSA keeps keyEncipherment", tmpl: logonTemplate, key: "rsa2048",
			subject: "CN=Alice Example,OU=staff,O=Corp,C=DE",
			ku:      x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			eku:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, unkEKU: smartcard,
			upns: []string{"alice@ad.corp.example"}, emails: []string{"alice@corp.example"},
		},
		{
			name: "logon P-384", tmpl: logonTemplate, key: "p384",
			subject: "CN=Alice Example,OU=staff,O=Corp,C=DE",
			ku:      x509.KeyUsageDigitalSignature,
			eku:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, unkEKU: smartcard,
			upns: []string{"alice@ad.corp.example"}, emails: []string{"alice@corp.example"},
		},
		{
			name: "document signing, e-mail only, empty fields omitted, duplicates merged", tmpl: signingTemplate, key: "p256",
			subject: "CN=alice",
			ku:      x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
			eku:     []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
			unkEKU:  []asn1.ObjectIdentifier{ca.OIDExtKeyUsageDocumentSigning},
			emails:  []string{"alice@corp.example"},
		},
		{
			name: "no SAN, no EKU, key agreement on EC", key: "p256",
			tmpl: func() *lanyard.Template {
				return &lanyard.Template{
					Name: "ecdh", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 10,
					KeyUsage: []string{lanyard.KUKeyAgreement, lanyard.KUKeyEncipherment},
					Subject:  lanyard.SubjectSpec{CommonName: "  {display_name} ({login})  ", Organization: "{email}"},
				}
			},
			subject: "CN=Alice Example (alice),O=alice@corp.example",
			ku:      x509.KeyUsageKeyAgreement,
			noSAN:   true,
		},
		{
			name: "server, code signing and time stamping", key: "rsa2048",
			tmpl: func() *lanyard.Template {
				return &lanyard.Template{
					Name: "any", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048}, ValidityDays: 10,
					KeyUsage:    []string{lanyard.KUDigitalSignature, lanyard.KUKeyAgreement},
					ExtKeyUsage: []string{lanyard.EKUServerAuth, lanyard.EKUCodeSigning, lanyard.EKUTimeStamping},
					Subject:     lanyard.SubjectSpec{CommonName: "{upn}", SANUPN: true},
				}
			},
			subject: "CN=alice@ad.corp.example",
			ku:      x509.KeyUsageDigitalSignature,
			eku:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageTimeStamping},
			upns:    []string{"alice@ad.corp.example"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := mustKey(t, tt.key)
			serial := new(big.Int).Lsh(big.NewInt(0x5a), 120)
			tmpl, err := ca.BuildCertificate(&ca.CertSpec{
				Template: tt.tmpl(), User: alice(), PublicKey: key.Public(),
				Serial: serial, NotBefore: notBefore, NotAfter: notAfter, URLs: testURLs,
			})
			if err != nil {
				t.Fatal(err)
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Subject.String(); got != tt.subject {
				t.Errorf("subject = %q, want %q", got, tt.subject)
			}
			if c.SerialNumber.Cmp(serial) != 0 || !c.NotBefore.Equal(notBefore) || !c.NotAfter.Equal(notAfter) {
				t.Errorf("serial/validity = %v %v %v", c.SerialNumber, c.NotBefore, c.NotAfter)
			}
			if c.KeyUsage != tt.ku {
				t.Errorf("key usage = %b, want %b", c.KeyUsage, tt.ku)
			}
			if !slices.Equal(c.ExtKeyUsage, tt.eku) {
				t.Errorf("ext key usage = %v, want %v", c.ExtKeyUsage, tt.eku)
			}
			if !slices.EqualFunc(c.UnknownExtKeyUsage, tt.unkEKU, asn1.ObjectIdentifier.Equal) {
				t.Errorf("unknown ext key usage = %v, want %v", c.UnknownExtKeyUsage, tt.unkEKU)
			}
			if !c.BasicConstraintsValid || c.IsCA {
				t.Errorf("basic constraints valid=%v CA=%v, want an end entity", c.BasicConstraintsValid, c.IsCA)
			}
			if !slices.Equal(c.CRLDistributionPoints, []string{"https://lanyard.example:8443/crl/builtin.crl"}) ||
				!slices.Equal(c.OCSPServer, []string{"https://lanyard.example:8443/ocsp"}) ||
				!slices.Equal(c.IssuingCertificateURL, []string{"https://lanyard.example:8443/ca/builtin.crt"}) {
				t.Errorf("URLs = %v %v %v", c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL)
			}
			if want := rfc7093KeyID(t, c); string(c.SubjectKeyId) != string(want) {
				t.Errorf("subject key id = %x, want %x", c.SubjectKeyId, want)
			}
			if string(c.AuthorityKeyId) != string(issuer.SubjectKeyId) {
				t.Errorf("authority key id = %x, want %x", c.AuthorityKeyId, issuer.SubjectKeyId)
			}
			upns, emails, critical, present := sanNames(t, c)
			if present == tt.noSAN {
				t.Fatalf("SAN present = %v, want %v", present, !tt.noSAN)
			}
			if critical {
				t.Error("SAN is critical although the subject is not empty (RFC 5280 4.2.1.6)")
			}
			if !slices.Equal(upns, tt.upns) || !slices.Equal(emails, tt.emails) {
				t.Errorf("SAN UPNs %q e-mails %q, want %q %q", upns, emails, tt.upns, tt.emails)
			}
			if !slices.Equal(c.EmailAddresses, tt.emails) {
				t.Errorf("crypto/x509 reads e-mails %q, want %q", c.EmailAddresses, tt.emails)
			}
			if err := c.CheckSignatureFrom(issuer); err != nil {
				t.Error(err)
			}
		})
	}
}

// rfc7093KeyID recomputes RFC 7093 method 1 from the certificate itself.
func rfc7093KeyID(tb testing.TB, c *x509.Certificate) []byte {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		tb.Fatal(err)
	}
	h := sha256.Sum256(spki.PublicKey.Bytes)
	return h[:20]
}

func TestBuildCertificateRefuses(t *testing.T) {
	ed, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*lanyard.Template, *lanyard.User)) func() (*lanyard.Template, *lanyard.User) {
		return func() (*lanyard.Template, *lanyard.User) {
			tm, u := logonTemplate(), alice()
			f(tm, u)
			return tm, u
		}
	}
	tests := []struct {
		name  string
		in    func() (*lanyard.Template, *lanyard.User)
		key   crypto.PublicKey
		code  string
		parts []string // the message must name these
	}{
		{"empty CN", with(func(tm *lanyard.Template, u *lanyard.User) { u.DisplayName = "" }), nil, lanyard.EInvalid, []string{"common name", "alice"}},
		{"blank CN", with(func(tm *lanyard.Template, u *lanyard.User) { tm.Subject.CommonName = " {email} "; u.Email = "" }), nil, lanyard.EInvalid, []string{"common name"}},
		{"UPN missing", with(func(tm *lanyard.Template, u *lanyard.User) { u.UPN = "" }), nil, lanyard.EInvalid, []string{"UPN", "alice"}},
		{"UPN without suffix", with(func(tm *lanyard.Template, u *lanyard.User) { u.UPN = "alice" }), nil, lanyard.EInvalid, []string{"UPN"}},
		{"e-mail missing", with(func(tm *lanyard.Template, u *lanyard.User) { u.Email = "" }), nil, lanyard.EInvalid, []string{"e-mail", "alice"}},
		{"e-mail not ASCII", with(func(tm *lanyard.Template, u *lanyard.User) { u.Email = "jörg@corp.example" }), nil, lanyard.EInvalid, []string{"e-mail"}},
		{"country not a code", with(func(tm *lanyard.Template, u *lanyard.User) { tm.Subject.Country = "Germany" }), nil, lanyard.EInvalid, []string{"country"}},
		{"CN too long", with(func(tm *lanyard.Template, u *lanyard.User) { u.DisplayName = strings.Repeat("x", 65) }), nil, lanyard.EInvalid, []string{"65 characters"}},
		{"control character", with(func(tm *lanyard.Template, u *lanyard.User) { u.DisplayName = "Alice\nExample" }), nil, lanyard.EInvalid, []string{"control"}},
		{"unknown EKU", with(func(tm *lanyard.Template, u *lanyard.User) { tm.ExtKeyUsage = []string{"teleport"} }), nil, lanyard.EInvalid, []string{"teleport"}},
		// Issue 13: a template stored before the rule, carrying OCSP
		// signing or any purpose, is not signed from.
		{"OCSP signing", with(func(tm *lanyard.Template, u *lanyard.User) {
			tm.ExtKeyUsage = []string{lanyard.EKUClientAuth, lanyard.EKUOCSPSigning}
		}), nil, lanyard.EInvalid, []string{"ocsp_signing", "OCSP responder"}},
		{"any purpose", with(func(tm *lanyard.Template, u *lanyard.User) { tm.ExtKeyUsage = []string{lanyard.EKUAnyExtendedUsage} }), nil, lanyard.EInvalid, []string{`"any"`, "every purpose"}},
		{"unknown KU", with(func(tm *lanyard.Template, u *lanyard.User) { tm.KeyUsage = []string{"crl_sign"} }), nil, lanyard.EInvalid, []string{"crl_sign"}},
		{"no usage left for EC", with(func(tm *lanyard.Template, u *lanyard.User) { tm.KeyUsage = []string{lanyard.KUKeyEncipherment} }), nil, lanyard.EInvalid, []string{"ecp256"}},
		{"algorithm not allowed", with(func(tm *lanyard.Template, u *lanyard.User) {
			tm.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072}
		}), nil, lanyard.EKeyNotAllowed, []string{"ecp256", "rsa2048, rsa3072", "logon"}},
		{"curve not supported", with(func(*lanyard.Template, *lanyard.User) {}), mustKey(t, "p521").Public(), lanyard.EKeyNotAllowed, []string{"P-521", "rsa2048, ecp256, ecp384"}},
		{"Ed25519 not supported", with(func(*lanyard.Template, *lanyard.User) {}), ed, lanyard.EKeyNotAllowed, []string{"ed25519"}},
		{"RSA 1024 not supported", with(func(*lanyard.Template, *lanyard.User) {}), &small.PublicKey, lanyard.EKeyNotAllowed, []string{"RSA 1024-bit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, u := tt.in()
			key := tt.key
			if key == nil {
				key = mustKey(t, "p256").Public()
			}
			_, err := ca.BuildCertificate(&ca.CertSpec{
				Template: tm, User: u, PublicKey: key, Serial: big.NewInt(1),
				NotBefore: time.Unix(0, 0), NotAfter: time.Unix(3600, 0), URLs: testURLs,
			})
			le := mustCode(t, err, tt.code)
			for _, p := range tt.parts {
				if !strings.Contains(le.Message, p) {
					t.Errorf("message %q does not mention %q", le.Message, p)
				}
			}
		})
	}
}

func TestBuildCertificateRejectsBadSpec(t *testing.T) {
	base := func() *ca.CertSpec {
		return &ca.CertSpec{
			Template: logonTemplate(), User: alice(), PublicKey: mustKey(t, "p256").Public(), Serial: big.NewInt(7),
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(60, 0),
		}
	}
	if _, err := ca.BuildCertificate(base()); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for name, mod := range map[string]func(*ca.CertSpec){
		"nil template":   func(s *ca.CertSpec) { s.Template = nil },
		"zero serial":    func(s *ca.CertSpec) { s.Serial = big.NewInt(0) },
		"negative":       func(s *ca.CertSpec) { s.Serial = big.NewInt(-5) },
		"21-octet":       func(s *ca.CertSpec) { s.Serial = new(big.Int).Lsh(big.NewInt(1), 160) },
		"empty validity": func(s *ca.CertSpec) { s.NotAfter = s.NotBefore },
	} {
		s := base()
		mod(s)
		if _, err := ca.BuildCertificate(s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestValidityWindow(t *testing.T) {
	now := time.Date(2026, 5, 10, 12, 30, 15, 999_000_000, time.FixedZone("CEST", 2*3600))
	caEnd := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		days       int
		caNotAfter time.Time
		nb, na     time.Time
		code       string
	}{
		{"backdated a minute, whole seconds, UTC", 30, caEnd,
			time.Date(2026, 5, 10, 10, 29, 15, 0, time.UTC), time.Date(2026, 6, 9, 10, 29, 15, 0, time.UTC), ""},
		{"clamped to the CA", 3650, caEnd,
			time.Date(2026, 5, 10, 10, 29, 15, 0, time.UTC), caEnd, ""},
		{"CA expired", 30, time.Date(2026, 5, 10, 10, 0, 0, 0, time.UTC), time.Time{}, time.Time{}, lanyard.EUnavailable},
		{"zero days", 0, caEnd, time.Time{}, time.Time{}, lanyard.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nb, na, err := ca.ValidityWindow(now, tt.days, tt.caNotAfter)
			if tt.code != "" {
				mustCode(t, err, tt.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !nb.Equal(tt.nb) || !na.Equal(tt.na) || nb.Location() != time.UTC {
				t.Fatalf("window = %v .. %v, want %v .. %v", nb, na, tt.nb, tt.na)
			}
		})
	}
}

func TestCheckPublicKey(t *testing.T) {
	tm := logonTemplate()
	for _, k := range []string{"p256", "p384", "rsa2048"} {
		if err := ca.CheckPublicKey(tm, mustKey(t, k).Public()); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	tm.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.ECP384}
	le := mustCode(t, ca.CheckPublicKey(tm, mustKey(t, "rsa2048").Public()), lanyard.EKeyNotAllowed)
	if !strings.Contains(le.Message, "rsa2048") || !strings.Contains(le.Message, "ecp384") {
		t.Errorf("message %q should name the key's and the allowed algorithms", le.Message)
	}
}
