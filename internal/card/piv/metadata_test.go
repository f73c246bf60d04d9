package piv_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestMetadata(t *testing.T) {
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		ref        piv.KeyRef
		response   string
		want       piv.Metadata
		wantPublic bool
	}{
		{"PIN", pivspec.KeyPIN, "0101FF 050101 06020302 9000",
			piv.Metadata{Algorithm: pivspec.AlgPIN, Default: true, Retries: 3, RetriesLeft: 2}, false},
		{"management key", pivspec.KeyAdmin, "010103 02020001 050100 9000",
			piv.Metadata{Algorithm: pivspec.Alg3DES, TouchPolicy: pivspec.TouchPolicyNever}, false},
		{"generated P-256 key", pivspec.SlotAuthentication.Ref(), fmt.Sprintf("010111 02020201 030101 0443 8641 %X 9000", point),
			piv.Metadata{Algorithm: pivspec.AlgECCP256, PINPolicy: pivspec.PINPolicyOnce, TouchPolicy: pivspec.TouchPolicyNever, Origin: pivspec.OriginGenerated}, true},
		// Tags in another order: the algorithm after the public key.
		{"public key before algorithm", pivspec.SlotSignature.Ref(), fmt.Sprintf("0443 8641 %X 010111 030102 9000", point),
			piv.Metadata{Algorithm: pivspec.AlgECCP256, Origin: pivspec.OriginImported}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replayCard(t, fmt.Sprintf("> 00 F7 00 %02X 00\n< %s", byte(tt.ref), tt.response))
			m, err := c.Metadata(ctx, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantPublic {
				if !key.PublicKey.Equal(m.PublicKey) {
					t.Fatalf("public key %v", m.PublicKey)
				}
			} else if m.PublicKey != nil {
				t.Fatalf("public key %v, want none", m.PublicKey)
			}
			m.PublicKey = nil
			if m != tt.want {
				t.Fatalf("Metadata = %+v, want %+v", m, tt.want)
			}
		})
	}
}

func TestMetadataErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		response string
		want     error
	}{
		{"empty slot", "6A88", piv.ErrNotFound},
		{"no GET METADATA", "6D00", piv.ErrUnsupported},
		{"algorithm of two bytes", "01021111 9000", apdu.ErrMalformed},
		{"policy of one byte", "020101 9000", apdu.ErrMalformed},
		{"retries of one byte", "060103 9000", apdu.ErrMalformed},
		{"point not on the curve", "010111 0443 8641 04" + fmt.Sprintf("%0128X", 1) + " 9000", apdu.ErrMalformed},
		{"public key of an unknown algorithm", "0101E0 0403 860100 9000", piv.ErrUnsupported},
		{"truncated", "0105FF 9000", apdu.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := replayCard(t, "> 00 F7 00 9A 00\n< "+tt.response)
			if _, err := c.Metadata(ctx, pivspec.SlotAuthentication.Ref()); !errors.Is(err, tt.want) {
				t.Fatalf("Metadata error %v, want %v", err, tt.want)
			}
		})
	}
}
