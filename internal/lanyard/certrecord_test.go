package lanyard_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestSerialHex checks the store's serial key: lower-case hex without
// leading zeros, whatever the serial's encoded length.
func TestSerialHex(t *testing.T) {
	for _, tc := range []struct {
		n    *big.Int
		want string
	}{
		{big.NewInt(1), "1"},
		{big.NewInt(0x0abc), "abc"},
		{new(big.Int).SetBytes([]byte{0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF}), "deadbeef"},
	} {
		if got := lanyard.SerialHex(tc.n); got != tc.want {
			t.Errorf("SerialHex(%#x) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

// TestManagedCertificate checks the record of a freshly signed
// certificate: keyed by its serial and public key, valid, managed, its
// validity in UTC, created and updated at now.
func TestManagedCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	east := time.FixedZone("east", 2*3600)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x0102ab),
		Subject:      pkix.Name{CommonName: "Alice Example"},
		NotBefore:    time.Date(2026, 1, 2, 3, 4, 5, 0, east),
		NotAfter:     time.Date(2027, 1, 2, 3, 4, 5, 0, east),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tpl := &lanyard.Template{Name: "piv-auth", CA: "main"}
	got := lanyard.ManagedCertificate(cert, tpl, &lanyard.User{ID: 7}, now)

	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	want := lanyard.Certificate{
		Serial: "102ab", CA: "main", Template: "piv-auth", UserID: 7,
		Subject: "CN=Alice Example", NotBefore: tmpl.NotBefore.UTC(), NotAfter: tmpl.NotAfter.UTC(),
		Status: lanyard.CertValid, Source: lanyard.SourceManaged, KeySHA256: hex.EncodeToString(sum[:]),
		CreatedAt: now, UpdatedAt: now,
	}
	if string(got.DER) != string(der) {
		t.Error("DER is not the certificate's encoding")
	}
	got.DER = nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("ManagedCertificate =\n%+v\nwant\n%+v", *got, want)
	}
	if got.NotBefore.Location() != time.UTC || got.NotAfter.Location() != time.UTC {
		t.Errorf("validity not in UTC: %v, %v", got.NotBefore.Location(), got.NotAfter.Location())
	}
}
