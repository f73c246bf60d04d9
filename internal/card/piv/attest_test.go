package piv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestAttest(t *testing.T) {
	ctx := context.Background()
	cert := mustCertificate(t, "YubiKey PIV Attestation 9c", nil)
	attestation := mustCertificate(t, "Yubico PIV Attestation", nil)
	f := newFakeCard(t)
	f.objects[string(mustHex(t, "5FFF01"))] = append(apdu.AppendTLV(nil, 0x70, attestation.Raw), 0x71, 0x01, 0x00)
	card := mustCard(t, newHandlerCard(func(c apdu.Command) apdu.Response {
		if c.INS != 0xF9 {
			return f.handle(c)
		}
		switch c.P1 {
		case 0x9C:
			return apdu.Response{Data: cert.Raw, SW: apdu.SWOK}
		case 0x9D:
			return apdu.Response{Data: []byte{0x30, 0x03, 0x02, 0x01, 0x01}, SW: apdu.SWOK}
		}
		return apdu.Response{SW: apdu.SWReferenceNotFound}
	}))
	got, err := card.Attest(ctx, pivspec.SlotSignature)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("Attest = %v, %v", got, err)
	}
	if _, err := card.Attest(ctx, pivspec.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("empty slot: %v", err)
	}
	if _, err := card.Attest(ctx, pivspec.SlotKeyManagement); err == nil {
		t.Fatal("a DER that is no certificate was accepted")
	}
	if _, err := card.Attest(ctx, piv.Slot(0x9B)); err == nil {
		t.Fatal("slot 9B accepted")
	}
	got, err = card.AttestationCertificate(ctx)
	if err != nil || !got.Equal(attestation) {
		t.Fatalf("AttestationCertificate = %v, %v", got, err)
	}
}

func TestAttestTranscript(t *testing.T) {
	cert := mustCertificate(t, "short", nil)
	// The certificate is longer than 256 bytes: 61XX and GET RESPONSE.
	if len(cert.Raw) <= 256 {
		t.Fatalf("test certificate of %d bytes is too short", len(cert.Raw))
	}
	c := replayCard(t, fmt.Sprintf(`
> 00 F9 9A 00 00
< %X 61%02X
> 00 C0 00 00 %02X
< %X 9000`, cert.Raw[:256], len(cert.Raw)-256, len(cert.Raw)-256, cert.Raw[256:]))
	got, err := c.Attest(context.Background(), pivspec.SlotAuthentication)
	if err != nil || !got.Equal(cert) {
		t.Fatalf("Attest = %v, %v", got, err)
	}
}
