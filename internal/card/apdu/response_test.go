package apdu_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		in       string
		wantData string
		wantSW   apdu.SW
	}{
		{"9000", "", apdu.SWOK},
		{"6A82", "", apdu.SWNotFound},
		{"0102 9000", "0102", apdu.SWOK},
		{"AABBCC 6110", "AABBCC", apdu.MoreData(16)},
		{"63C2", "", apdu.VerifyFailed(2)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in := mustHex(t, tt.in)
			r, err := apdu.ParseResponse(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Data, mustHex(t, tt.wantData)) || r.SW != tt.wantSW {
				t.Fatalf("ParseResponse = %X %v, want %s %v", r.Data, r.SW, tt.wantData, tt.wantSW)
			}
			if tt.wantData == "" && r.Data != nil {
				t.Errorf("Data = %#v, want nil", r.Data)
			}
			if got := r.Bytes(); !bytes.Equal(got, in) {
				t.Errorf("Bytes() = %X, want %X", got, in)
			}
		})
	}
}

func TestParseResponseRejectsShort(t *testing.T) {
	for _, in := range [][]byte{nil, {0x90}} {
		if r, err := apdu.ParseResponse(in); !errors.Is(err, apdu.ErrMalformed) {
			t.Errorf("ParseResponse(%X) = %+v, %v; want ErrMalformed", in, r, err)
		}
	}
}

func TestParseResponseCopiesData(t *testing.T) {
	in := mustHex(t, "0102 9000")
	r, err := apdu.ParseResponse(in)
	if err != nil {
		t.Fatal(err)
	}
	in[0] = 0xFF
	if r.Data[0] != 0x01 {
		t.Fatal("Data aliases the input")
	}
}

func TestResponseErr(t *testing.T) {
	if err := (apdu.Response{Data: []byte{1}, SW: apdu.SWOK}).Err(); err != nil {
		t.Errorf("Err() on 9000 = %v", err)
	}
	if err := (apdu.Response{SW: apdu.SWNotFound}).Err(); !apdu.IsNotFound(err) {
		t.Errorf("Err() on 6A82 = %v, want not found", err)
	}
}
