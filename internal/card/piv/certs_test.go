package piv_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// mustCertificate returns a self-signed certificate for pub, signed by a
// throwaway key; the tests only store and read it.
func mustCertificate(tb testing.TB, cn string, pub any) *x509.Certificate {
	tb.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if pub == nil {
		pub = &signer.PublicKey
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func TestPutAndGetCertificate(t *testing.T) {
	ctx := context.Background()
	f := newFakeCard(t)
	a := f.adminSession(t)
	cert := mustCertificate(t, "alice", nil)
	if err := a.PutCertificate(ctx, pivspec.SlotAuthentication, cert); err != nil {
		t.Fatal(err)
	}
	// SP 800-73-4 Part 2 3.3.1 and Part 1 table 10: 5C 03 5FC105, then
	// 53 { 70 cert, 71 00, FE 00 }.
	put := f.log[len(f.log)-1]
	inner := apdu.AppendTLV(nil, 0x70, cert.Raw)
	inner = append(inner, 0x71, 0x01, 0x00, 0xFE, 0x00)
	want := append(mustHex(t, "5C035FC105"), apdu.AppendTLV(nil, 0x53, inner)...)
	if put.INS != 0xDB || put.P1 != 0x3F || put.P2 != 0xFF || !bytes.Equal(put.Data, want) {
		t.Fatalf("PUT DATA %02X %02X%02X\n%X\nwant\n%X", put.INS, put.P1, put.P2, put.Data, want)
	}
	got, err := a.Card().Certificate(ctx, pivspec.SlotAuthentication)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("Certificate = %v, %v", got, err)
	}
	if _, err := a.Card().Certificate(ctx, pivspec.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("empty slot: %v", err)
	}
	if err := a.DeleteCertificate(ctx, pivspec.SlotAuthentication); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Card().Certificate(ctx, pivspec.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("deleted certificate: %v", err)
	}
}

func TestPutCertificateNeedsTheManagementKey(t *testing.T) {
	ctx := context.Background()
	f := newFakeCard(t)
	a := f.adminSession(t)
	f.authed = false // as after a reset of the card
	err := a.PutCertificate(ctx, pivspec.SlotSignature, mustCertificate(t, "bob", nil))
	if !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("PutCertificate = %v, want ErrSecurityStatus", err)
	}
	if err := a.PutCertificate(ctx, piv.Slot(0x9B), mustCertificate(t, "bob", nil)); err == nil {
		t.Fatal("PutCertificate accepted slot 9B")
	}
	if err := a.PutCertificate(ctx, pivspec.SlotSignature, nil); err == nil {
		t.Fatal("PutCertificate accepted a nil certificate")
	}
}

func TestCertificates(t *testing.T) {
	ctx := context.Background()
	f := newFakeCard(t)
	a := f.adminSession(t)
	retired5, _ := pivspec.RetiredSlot(5)
	retired20, _ := pivspec.RetiredSlot(20)
	want := map[piv.Slot]*x509.Certificate{}
	for _, s := range []piv.Slot{pivspec.SlotSignature, pivspec.SlotCardAuthentication, retired5, retired20} {
		want[s] = mustCertificate(t, s.String(), nil)
		if err := a.PutCertificate(ctx, s, want[s]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := a.Card().Certificates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	order := []piv.Slot{pivspec.SlotSignature, pivspec.SlotCardAuthentication, retired5, retired20}
	if len(got) != len(order) {
		t.Fatalf("Certificates found %d, want %d", len(got), len(order))
	}
	for i, sc := range got {
		if sc.Slot != order[i] || !sc.Certificate.Equal(want[sc.Slot]) {
			t.Fatalf("certificate %d: slot %v, %s", i, sc.Slot, sc.Certificate.Subject)
		}
	}

	// A corrupt object is reported, the others still returned.
	f.objects[string(mustHex(t, "5FC10A"))] = mustHex(t, "7003010203 710100 FE00")
	got, err = a.Card().Certificates(ctx)
	if err == nil || len(got) != 3 {
		t.Fatalf("with a corrupt object: %d certificates, %v", len(got), err)
	}
}

func TestCertificatesStopsOnCardErrors(t *testing.T) {
	c := replayCard(t, `
> 00 CB 3F FF 05 5C035FC105 00
< 6A82
> 00 CB 3F FF 05 5C035FC10A 00
! card removed`)
	got, err := c.Certificates(context.Background())
	if err == nil || len(got) != 0 {
		t.Fatalf("Certificates = %v, %v", got, err)
	}
}

func TestCertificateObjects(t *testing.T) {
	ctx := context.Background()
	cert := mustCertificate(t, "carol", nil)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(cert.Raw)
	w.Close()
	bomb := new(bytes.Buffer)
	w = gzip.NewWriter(bomb)
	w.Write(make([]byte, 1<<20))
	w.Close()

	// object joins the TLVs inside a certificate object's 53.
	object := func(inner ...[]byte) []byte { return bytes.Join(inner, nil) }
	tests := []struct {
		name    string
		object  []byte
		wantErr bool
	}{
		{"plain", object(apdu.AppendTLV(nil, 0x70, cert.Raw), mustHex(t, "710100 FE00")), false},
		{"no CertInfo", object(apdu.AppendTLV(nil, 0x70, cert.Raw)), false},
		// YubiKey tools store large certificates gzip-compressed, CertInfo 01.
		{"compressed", object(apdu.AppendTLV(nil, 0x70, gz.Bytes()), mustHex(t, "710101 FE00")), false},
		{"compressed, too large", object(apdu.AppendTLV(nil, 0x70, bomb.Bytes()), mustHex(t, "710101")), true},
		{"compressed flag on plain DER", object(apdu.AppendTLV(nil, 0x70, cert.Raw), mustHex(t, "710101")), true},
		{"no certificate tag", object(mustHex(t, "710100 FE00")), true},
		{"not a certificate", object(mustHex(t, "7003 010203")), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCard(t)
			f.objects[string(mustHex(t, "5FC101"))] = tt.object
			got, err := mustCard(t, newHandlerCard(f.handle)).Certificate(ctx, pivspec.SlotCardAuthentication)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Certificate succeeded")
				}
				return
			}
			if err != nil || !got.Equal(cert) {
				t.Fatalf("Certificate = %v, %v", got, err)
			}
		})
	}
}

func TestReadAndWriteObject(t *testing.T) {
	ctx := context.Background()
	// The Discovery Object has its own outer tag 7E and is written without
	// a tag list (SP 800-73-4 Part 2 3.3.1).
	a := replayAdmin(t, `
> 00 DB 3F FF 14 7E12 4F0BA0000003080000100001005F2F024000
< 9000
> 00 DB 3F FF 0B 5C035FC109 5304 0102 0304
< 9000
> 00 CB 3F FF 03 5C017E 00
< 7E12 4F0BA0000003080000100001005F2F024000 9000
> 00 CB 3F FF 05 5C035FC109 00
< 5304 01020304 9000`)
	discovery := mustHex(t, "4F0BA0000003080000100001005F2F024000")
	if err := a.WriteObject(ctx, pivspec.ObjectDiscovery, discovery); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteObject(ctx, pivspec.ObjectPrintedInfo, mustHex(t, "01020304")); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Card().ReadObject(ctx, pivspec.ObjectDiscovery); err != nil || !bytes.Equal(got, discovery) {
		t.Fatalf("Discovery = %X, %v", got, err)
	}
	if got, err := a.Card().ReadObject(ctx, pivspec.ObjectPrintedInfo); err != nil || !bytes.Equal(got, mustHex(t, "01020304")) {
		t.Fatalf("printed information = %X, %v", got, err)
	}
	for _, id := range []uint32{0, 0x5F, 0x1F1F1F1F} {
		if _, err := a.Card().ReadObject(ctx, id); err == nil {
			t.Errorf("ReadObject(%X) accepted", id)
		}
		if err := a.WriteObject(ctx, id, nil); err == nil {
			t.Errorf("WriteObject(%X) accepted", id)
		}
	}
	if err := a.WriteObject(ctx, pivspec.ObjectPrintedInfo, make([]byte, piv.MaxObjectSize+1)); err == nil {
		t.Error("WriteObject accepted an oversized object")
	}
}

func TestLongObjectsAreChained(t *testing.T) {
	ctx := context.Background()
	f := newFakeCard(t)
	a := f.adminSession(t)
	// A 3 KiB object needs a command chain and several GET RESPONSEs.
	long := bytes.Repeat([]byte{0xA5}, 3000)
	if err := a.WriteObject(ctx, pivspec.ObjectFacialImage, long); err != nil {
		t.Fatal(err)
	}
	got, err := a.Card().ReadObject(ctx, pivspec.ObjectFacialImage)
	if err != nil || !bytes.Equal(got, long) {
		t.Fatalf("ReadObject = %d bytes, %v", len(got), err)
	}
}

func TestSlots(t *testing.T) {
	tests := []struct {
		slot   piv.Slot
		object uint32
	}{
		// SP 800-73-4 Part 1 table 3.
		{pivspec.SlotAuthentication, 0x5FC105},
		{pivspec.SlotSignature, 0x5FC10A},
		{pivspec.SlotKeyManagement, 0x5FC10B},
		{pivspec.SlotCardAuthentication, 0x5FC101},
		{piv.Slot(0x82), 0x5FC10D},
		{piv.Slot(0x95), 0x5FC120},
		{pivspec.SlotAttestation, 0x5FFF01},
		{piv.Slot(0x9B), 0},
		{piv.Slot(0x96), 0},
		{piv.Slot(0x81), 0},
	}
	for _, tt := range tests {
		if got := tt.slot.Object(); got != tt.object {
			t.Errorf("%v.Object() = %X, want %X", tt.slot, got, tt.object)
		}
		if tt.slot.Valid() != (tt.object != 0) {
			t.Errorf("%v.Valid() = %v", tt.slot, tt.slot.Valid())
		}
	}
	slots := pivspec.CertificateSlots()
	if len(slots) != 24 || slots[0] != pivspec.SlotAuthentication || slots[4] != piv.Slot(0x82) || slots[23] != piv.Slot(0x95) {
		t.Fatalf("CertificateSlots = %v", slots)
	}
	for n, want := range map[int]piv.Slot{1: 0x82, 20: 0x95} {
		if s, ok := pivspec.RetiredSlot(n); !ok || s != want {
			t.Errorf("RetiredSlot(%d) = %v, %v", n, s, ok)
		}
	}
	for _, n := range []int{0, 21} {
		if _, ok := pivspec.RetiredSlot(n); ok {
			t.Errorf("RetiredSlot(%d) accepted", n)
		}
	}
	for ref, want := range map[piv.KeyRef]string{
		pivspec.KeyPIN: "PIN", pivspec.KeyPUK: "PUK", pivspec.KeyAdmin: "management key",
		pivspec.SlotSignature.Ref(): "key 9C (Digital Signature)", piv.KeyRef(0x42): "key reference 42",
	} {
		if got := ref.String(); got != want {
			t.Errorf("KeyRef %02X: %q, want %q", byte(ref), got, want)
		}
	}
	if got := fmt.Sprint(piv.Slot(0x84)); got != "84 (Retired Key Management 3)" {
		t.Errorf("slot 84: %q", got)
	}
}
