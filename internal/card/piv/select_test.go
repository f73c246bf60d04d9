package piv_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestSelect(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		transcript string
		want       piv.Application
		wantErr    error
	}{
		{"YubiKey template", `
> 00 A4 04 00 05 A000000308 00
< 6111 4F06000010000100 7907 4F05A000000308 9000`,
			piv.Application{AID: mustHex(t, "000010000100"), Authority: mustHex(t, "A000000308")}, nil},
		// SP 800-73-4 Part 2 table 3 with every optional field.
		{"full template", `
> 00 A4 04 00 05 A000000308 00
< 6130 4F0BA0000003080000100001 00 7907 4F05A000000308 5004 50495620 5F5004 782E6F72 AC0B 800111 800107 800114 0600 9000`,
			piv.Application{
				AID:        mustHex(t, "A0000003080000100001 00"),
				Authority:  mustHex(t, "A000000308"),
				Label:      "PIV ",
				URL:        "x.or",
				Algorithms: []piv.Algorithm{pivspec.AlgECCP256, pivspec.AlgRSA2048, pivspec.AlgECCP384},
			}, nil},
		{"template with the response split by 61XX", `
> 00 A4 04 00 05 A000000308 00
< 6111 4F06000010000100 61 09
> 00 C0 00 00 09
< 7907 4F05A000000308 9000`,
			piv.Application{AID: mustHex(t, "000010000100"), Authority: mustHex(t, "A000000308")}, nil},
		{"bare 9000", `
> 00 A4 04 00 05 A000000308 00
< 9000`, piv.Application{}, nil},
		{"no PIV application", `
> 00 A4 04 00 05 A000000308 00
< 6A82`, piv.Application{}, piv.ErrNotFound},
		{"template without AID", `
> 00 A4 04 00 05 A000000308 00
< 6109 7907 4F05A000000308 9000`, piv.Application{}, apdu.ErrMalformed},
		{"not a template", `
> 00 A4 04 00 05 A000000308 00
< 4F06000010000100 9000`, piv.Application{}, apdu.ErrMalformed},
		{"truncated", `
> 00 A4 04 00 05 A000000308 00
< 6111 4F06000010 9000`, piv.Application{}, apdu.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replayCard(t, tt.transcript).Select(ctx)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Select = %+v, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.AID, tt.want.AID) || !bytes.Equal(got.Authority, tt.want.Authority) ||
				got.Label != tt.want.Label || got.URL != tt.want.URL || !slices.Equal(got.Algorithms, tt.want.Algorithms) {
				t.Fatalf("Select = %+v, want %+v", got, tt.want)
			}
		})
	}
}
