package apdu_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// tlvBytes builds tag bytes, length bytes and n value bytes from seq.
func tlvBytes(t *testing.T, head string, n int) []byte {
	return append(mustHex(t, head), seq(n)...)
}

func TestTLVLengthBoundaries(t *testing.T) {
	tests := []struct {
		n    int
		head string // tag 53 and the minimal length field
	}{
		{0, "53 00"},
		{1, "53 01"},
		{127, "53 7F"},
		{128, "53 8180"},
		{255, "53 81FF"},
		{256, "53 820100"},
		{65535, "53 82FFFF"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
			want := tlvBytes(t, tt.head, tt.n)
			if got := apdu.AppendTLV(nil, 0x53, seq(tt.n)); !bytes.Equal(got, want) {
				t.Fatalf("AppendTLV = %X…, want %X…", got[:min(len(got), 8)], want[:min(len(want), 8)])
			}
			tlvs, err := apdu.ParseTLVs(want)
			if err != nil {
				t.Fatal(err)
			}
			if len(tlvs) != 1 || tlvs[0].Tag != 0x53 || !bytes.Equal(tlvs[0].Value, seq(tt.n)) {
				t.Fatalf("ParseTLVs = %d objects, value of %d bytes", len(tlvs), len(tlvs[0].Value))
			}
			// One byte short of the stated length is truncated.
			if _, err := apdu.ParseTLVs(want[:len(want)-1]); tt.n > 0 && !errors.Is(err, apdu.ErrMalformed) {
				t.Fatalf("truncated: err = %v", err)
			}
		})
	}
}

func TestParseTLVs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []apdu.TLV
	}{
		{"empty input", "", nil},
		{"one primitive", "80 02 0102", []apdu.TLV{{Tag: 0x80, Value: []byte{1, 2}}}},
		{"empty value", "82 00", []apdu.TLV{{Tag: 0x82}}},
		{"sequence", "4F 01 AA 79 00 50 02 4142", []apdu.TLV{
			{Tag: 0x4F, Value: []byte{0xAA}}, {Tag: 0x79}, {Tag: 0x50, Value: []byte("AB")},
		}},
		{"two-byte tag", "7F49 03 860100", []apdu.TLV{{Tag: 0x7F49, Value: mustHex(t, "860100")}}},
		{"three-byte tag", "5FC105 01 00", []apdu.TLV{{Tag: 0x5FC105, Value: []byte{0}}}},
		{"three-byte tag 5FFF7F", "5FFF7F 00", []apdu.TLV{{Tag: 0x5FFF7F}}},
		{"non-minimal 81 length", "53 8105 0001020304", []apdu.TLV{{Tag: 0x53, Value: seq(5)}}},
		{"non-minimal 82 length", "53 820002 0001", []apdu.TLV{{Tag: 0x53, Value: seq(2)}}},
		{"tag FE (LRC of PIV objects)", "FE 00", []apdu.TLV{{Tag: 0xFE}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apdu.ParseTLVs(mustHex(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !sameTLVs(got, tt.want) {
				t.Fatalf("ParseTLVs = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseTLVsRejects(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"indefinite length", "53 80 0000", "indefinite"},
		{"three length bytes", "53 83 000001 AA", "more than two length bytes"},
		{"length FF", "53 FF", "more than two length bytes"},
		{"length 81 truncated", "53 81", "length field truncated"},
		{"length 82 truncated", "53 82 01", "length field truncated"},
		{"missing length", "53", "missing length"},
		{"value truncated", "53 03 0102", "length 3, but 2 bytes follow"},
		{"two-byte tag truncated", "7F", "truncated"},
		{"three-byte tag truncated", "5FC1", "truncated"},
		{"four-byte tag", "5FC18101 00", "longer than 3 bytes"},
		{"tag 00", "00 00", "tag 00"},
		{"trailing byte", "53 01 AA 00", "offset 3"},
		{"trailing tag without length", "53 01 AA 80", "offset 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apdu.ParseTLVs(mustHex(t, tt.in))
			if !errors.Is(err, apdu.ErrMalformed) {
				t.Fatalf("ParseTLVs = %v, %v; want ErrMalformed", got, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseTLVsValueCannotOverwriteNext(t *testing.T) {
	in := mustHex(t, "80 01 AA 81 01 BB")
	tlvs, err := apdu.ParseTLVs(in)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(tlvs[0].Value, 0xFF, 0xFF, 0xFF)
	if !bytes.Equal(in, mustHex(t, "80 01 AA 81 01 BB")) {
		t.Fatalf("appending to a value changed the input: %X", in)
	}
}

func TestTLVNested(t *testing.T) {
	// A GENERAL AUTHENTICATE response: 7C { 82 signature }.
	sig := seq(300)
	b := apdu.AppendTLV(nil, 0x7C, apdu.AppendTLVs(nil, apdu.TLV{Tag: 0x82, Value: sig}))
	if !bytes.HasPrefix(b, mustHex(t, "7C 820130 82 82012C")) {
		t.Fatalf("encoding starts %X", b[:10])
	}
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		t.Fatal(err)
	}
	outer, ok := apdu.Find(tlvs, 0x7C)
	if !ok || !outer.Constructed() {
		t.Fatalf("Find(7C) = %v, %v", outer.Tag, ok)
	}
	children, err := outer.Children()
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := apdu.Find(children, 0x82); !ok || !bytes.Equal(s.Value, sig) {
		t.Fatalf("Find(82) = %v", ok)
	}
	if _, ok := apdu.Find(children, 0x81); ok {
		t.Fatal("Find(81) found an absent tag")
	}
}

func TestUnwrap(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		tag     uint32
		want    string
		wantErr bool
	}{
		{"the object", "53 02 7001", 0x53, "7001", false},
		{"two-byte tag", "7F49 02 8600", 0x7F49, "8600", false},
		{"empty value", "53 00", 0x53, "", false},
		{"other tag", "54 02 7001", 0x53, "", true},
		{"two objects", "53 00 53 00", 0x53, "", true},
		{"nothing", "", 0x53, "", true},
		{"malformed", "53 05 00", 0x53, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apdu.Unwrap(mustHex(t, tt.in), tt.tag)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Unwrap = %X, %v", got, err)
			}
			if err != nil && !errors.Is(err, apdu.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if !bytes.Equal(got, mustHex(t, tt.want)) {
				t.Fatalf("Unwrap = %X, want %s", got, tt.want)
			}
		})
	}
}

func TestTLVConstructed(t *testing.T) {
	for tag, want := range map[uint32]bool{0x7C: true, 0x53: false, 0x61: true, 0x7F49: true, 0x5FC105: false, 0x80: false, 0xFE: true, 0xBF0C: true} {
		if got := (apdu.TLV{Tag: tag}).Constructed(); got != want {
			t.Errorf("TLV{%X}.Constructed() = %v, want %v", tag, got, want)
		}
	}
}

func TestValidTag(t *testing.T) {
	valid := []uint32{0x01, 0x53, 0x7C, 0x80, 0xFE, 0x5F2F, 0x7F49, 0x9F01, 0x5FC105, 0x5FFF7F, 0xFF8100}
	invalid := []uint32{0, 0x1F, 0x5F, 0x7F, 0x0100, 0x5380, 0x5FC1, 0x5F8100 | 0x80, 0x5F0101, 0x01000000, 0x5FC10580}
	for _, tag := range valid {
		if !apdu.ValidTag(tag) {
			t.Errorf("ValidTag(%X) = false", tag)
		}
	}
	for _, tag := range invalid {
		if apdu.ValidTag(tag) {
			t.Errorf("ValidTag(%X) = true", tag)
		}
	}
}

func TestAppendTLVPanicsOnProgrammingErrors(t *testing.T) {
	tests := []struct {
		name  string
		tag   uint32
		value []byte
	}{
		{"tag 5F alone", 0x5F, nil},
		{"tag 0", 0, nil},
		{"value of 65536 bytes", 0x53, make([]byte, 65536)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("AppendTLV did not panic")
				}
			}()
			apdu.AppendTLV(nil, tt.tag, tt.value)
		})
	}
}

func TestAppendTLVsRoundTrip(t *testing.T) {
	tlvs := []apdu.TLV{{Tag: 0x5C, Value: mustHex(t, "5FC105")}, {Tag: 0x53, Value: seq(1000)}, {Tag: 0xFE}}
	got, err := apdu.ParseTLVs(apdu.AppendTLVs(mustHex(t, "AB"), tlvs...)[1:])
	if err != nil || !sameTLVs(got, tlvs) {
		t.Fatalf("ParseTLVs(AppendTLVs) = %v, %v", got, err)
	}
}

func sameTLVs(a, b []apdu.TLV) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Tag != b[i].Tag || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
